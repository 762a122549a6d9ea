package activity

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/money"
)

// Activity is a flash sale of one product.
type Activity struct {
	ID        int64       `json:"id" validate:"required" minimum:"1" example:"1"`
	Name      string      `json:"name" validate:"required" minLength:"1" maxLength:"250" example:"Double 11 keyboard sale"`
	ProductID int64       `json:"product_id" validate:"required" minimum:"1" example:"1"`
	Price     money.Cents `json:"price" validate:"required" swaggertype:"number" minimum:"0" maximum:"9999999999.99" multipleOf:"0.01" example:"9.99"`
	Stock     int64       `json:"stock" validate:"required" minimum:"1" maximum:"10000000" example:"100"`
	Remaining int64       `json:"remaining" validate:"required" minimum:"0" maximum:"10000000" example:"42"`
	// Released counts the units given back to the product's inventory:
	// unsold when the sale ended, or returned after it.
	Released int64 `json:"released" validate:"required" minimum:"0" example:"0"`
	// Closed reports whether the end of the sale was processed (its
	// unsold units went back to the product); its end can no longer move.
	Closed    bool      `json:"closed" validate:"required" example:"false"`
	StartTime time.Time `json:"start_time" validate:"required" format:"date-time" example:"2026-01-01T00:00:00Z"`
	EndTime   time.Time `json:"end_time" validate:"required" format:"date-time" example:"2099-12-31T23:59:59Z"`
	CreatedAt time.Time `json:"created_at" validate:"required" format:"date-time" example:"2026-01-01T00:00:00Z"`
	UpdatedAt time.Time `json:"updated_at" validate:"required" format:"date-time" example:"2026-01-01T00:00:00Z"`
	// Product is the product as the product service describes it; it is
	// embedded by GET /activities/{id} only.
	Product any `json:"product,omitempty" swaggertype:"object"`
	// ProductError says why Product is missing when the product service
	// could not be reached.
	ProductError string `json:"product_error,omitempty" example:"product service is unreachable"`
}

// Deleted answers a successful delete.
type Deleted struct {
	ID int64 `json:"id" validate:"required" minimum:"1" example:"1"`
}

// Started reports whether the sale has begun at now.
func (a Activity) Started(now time.Time) bool { return !now.Before(a.StartTime) }

// CreateRequest is the body of POST /activities.
// The example's window is open from the past far into the future, so
// trying it creates a sale that is running.
type CreateRequest struct {
	Name      string `json:"name" validate:"required" minLength:"1" maxLength:"250" example:"Double 11 keyboard sale"`
	ProductID int64  `json:"product_id" validate:"required" minimum:"1" example:"1"`
	Stock     int64  `json:"stock" validate:"required" minimum:"1" maximum:"10000000" example:"100"`
	// StartTime may be in the past: the sale then runs at once.
	StartTime time.Time `json:"start_time" validate:"required" format:"date-time" example:"2026-01-01T00:00:00Z"`
	// EndTime must be after StartTime and in the future.
	EndTime time.Time `json:"end_time" validate:"required" format:"date-time" example:"2099-12-31T23:59:59Z"`
}

// Valid checks a new activity.
func (c CreateRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	checkName(p, c.Name)
	if c.ProductID <= 0 {
		p["product_id"] = "must be a positive integer"
	}
	if c.Stock <= 0 {
		p["stock"] = "must be a positive integer"
	} else if c.Stock > maxStock {
		p["stock"] = "must be at most 10000000"
	}
	checkWindow(p, c.StartTime, c.EndTime)
	// Whether the end is in the future is the Catalog's to say, by the
	// database's clock (Catalog.Create).
	return p
}

// maxStock bounds one sale, so a gate's memory stays bounded.
const maxStock = 10_000_000

// UpdateRequest is the body of PUT /activities/{id}: the fields to change.
type UpdateRequest struct {
	Name      *string    `json:"name,omitempty" minLength:"1" maxLength:"250" example:"Double 12 keyboard sale"`
	ProductID *int64     `json:"product_id,omitempty" minimum:"1" example:"1"`
	Stock     *int64     `json:"stock,omitempty" minimum:"1" maximum:"10000000" example:"120"`
	StartTime *time.Time `json:"start_time,omitempty" format:"date-time" example:"2026-01-01T00:00:00Z"`
	EndTime   *time.Time `json:"end_time,omitempty" format:"date-time" example:"2099-12-31T23:59:59Z"`
}

// Valid checks the fields present in an update.
func (u UpdateRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	if u.Name == nil && u.ProductID == nil && u.Stock == nil && u.StartTime == nil && u.EndTime == nil {
		p["body"] = "must name at least one of name, product_id, stock, start_time, end_time"
	}
	if u.Name != nil {
		checkName(p, *u.Name)
	}
	if u.ProductID != nil && *u.ProductID <= 0 {
		p["product_id"] = "must be a positive integer"
	}
	if u.Stock != nil && (*u.Stock <= 0 || *u.Stock > maxStock) {
		p["stock"] = "must be a positive integer of at most 10000000"
	}
	if u.StartTime != nil && u.StartTime.IsZero() {
		p["start_time"] = "must be an RFC 3339 time"
	}
	if u.EndTime != nil && u.EndTime.IsZero() {
		p["end_time"] = "must be an RFC 3339 time"
	}
	return p
}

// SeckillRequest is the body of POST /activities/{id}/seckill.
type SeckillRequest struct {
	UserID int64 `json:"user_id" validate:"required" minimum:"1" example:"10001"`
}

// SeckillResult answers a purchase request.
type SeckillResult struct {
	ActivityID int64  `json:"activity_id" validate:"required" minimum:"1" example:"1"`
	UserID     int64  `json:"user_id" validate:"required" minimum:"1" example:"10001"`
	Won        bool   `json:"won" validate:"required" example:"true"`
	Status     string `json:"status" validate:"required" enums:"won,already_won,sold_out,not_started,ended,forfeited" example:"won"`
	// OrderID is present when won is true.
	OrderID string `json:"order_id,omitempty" format:"uuid" example:"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"`
}

// Outcome is a user's persisted result in an activity.
type Outcome struct {
	ActivityID int64 `json:"activity_id" validate:"required" minimum:"1" example:"1"`
	UserID     int64 `json:"user_id" validate:"required" minimum:"1" example:"10001"`
	// Won reports whether the user holds a unit: won, and the order is
	// not cancelled or expired.
	Won bool `json:"won" validate:"required" example:"true"`
	// Status is won, forfeited (won, then the order was cancelled or
	// expired: the user cannot win again here), or for a user without a
	// win what a purchase would answer now: not_started, ended, sold_out,
	// or open while a purchase could still win.
	Status  string `json:"status" validate:"required" enums:"won,forfeited,not_started,ended,sold_out,open" example:"won"`
	OrderID string `json:"order_id,omitempty" format:"uuid" example:"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"`
}

// Stats is an activity's sale progress, as committed in the database.
// While the sale runs, stock = remaining + sold; after its end,
// stock = remaining (0) + sold + released.
type Stats struct {
	ActivityID int64 `json:"activity_id" validate:"required" minimum:"1" example:"1"`
	Stock      int64 `json:"stock" validate:"required" minimum:"1" example:"100"`
	// Sold counts the units held by created or paid orders.
	Sold int64 `json:"sold" validate:"required" minimum:"0" example:"70"`
	// Remaining counts the units on sale, returned ones included.
	Remaining int64 `json:"remaining" validate:"required" minimum:"0" example:"30"`
	// Paid counts the units of paid orders.
	Paid int64 `json:"paid" validate:"required" minimum:"0" example:"40"`
	// Returned counts the units given back by cancelled or expired
	// orders, ever.
	Returned int64 `json:"returned" validate:"required" minimum:"0" example:"30"`
	// Released counts the units given back to the product's inventory:
	// unsold at the end, or returned after it.
	Released int64 `json:"released" validate:"required" minimum:"0" example:"0"`
	// Closed reports whether the end of the sale was processed: its
	// unsold units went back to the product.
	Closed bool `json:"closed" validate:"required" example:"false"`
	// Undelivered counts wins whose order the order service has not yet
	// confirmed: counted at most a second ago, plus the units sold since,
	// so never fewer than the truth, and 0 only when every order is in.
	Undelivered int64 `json:"undelivered" validate:"required" minimum:"0" example:"0"`
	// Failed counts wins the order service refused for good, as counted
	// at most a second ago.
	Failed int64 `json:"failed" validate:"required" minimum:"0" example:"0"`
}

func checkName(p errs.FieldErrors, s string) {
	switch {
	case strings.TrimSpace(s) == "":
		p["name"] = "is required"
	case utf8.RuneCountInString(s) > 250:
		p["name"] = "must be at most 250 characters"
	case strings.ContainsRune(s, 0):
		p["name"] = "must not contain NUL characters"
	}
}

func checkWindow(p errs.FieldErrors, start, end time.Time) {
	if start.IsZero() {
		p["start_time"] = "is required (RFC 3339)"
	}
	if end.IsZero() {
		p["end_time"] = "is required (RFC 3339)"
	}
	if !start.IsZero() && !end.IsZero() && !end.After(start) {
		p["end_time"] = "must be after start_time"
	}
}
