package product

import (
	"strings"
	"time"
	"unicode/utf8"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/money"
)

// Product is an item for sale and its inventory.
type Product struct {
	ID          int64       `json:"id" validate:"required" minimum:"1" example:"1"`
	Name        string      `json:"name" validate:"required" minLength:"1" maxLength:"250" example:"Mechanical keyboard"`
	Description string      `json:"description" validate:"required" maxLength:"600" example:"87 keys, brown switches"`
	Price       money.Cents `json:"price" validate:"required" swaggertype:"number" minimum:"0" maximum:"9999999999.99" multipleOf:"0.01" example:"9.99"`
	// Inventory counts the free units: available to reserve.
	Inventory int64 `json:"inventory" validate:"required" minimum:"0" example:"100"`
	// Reserved counts the units held by sale activities: unsold, or won
	// by an order not yet paid.
	Reserved int64 `json:"reserved" validate:"required" minimum:"0" example:"10"`
	// Sold counts the units paid for. Only an explicit inventory edit
	// changes inventory + reserved + sold.
	Sold      int64     `json:"sold" validate:"required" minimum:"0" example:"5"`
	CreatedAt time.Time `json:"created_at" validate:"required" format:"date-time" example:"2026-11-01T08:00:00Z"`
	UpdatedAt time.Time `json:"updated_at" validate:"required" format:"date-time" example:"2026-11-01T08:00:00Z"`
}

// Deleted answers a successful delete.
type Deleted struct {
	ID int64 `json:"id" validate:"required" minimum:"1" example:"1"`
}

// Reservation is a quantity of a product held for one sale activity.
type Reservation struct {
	ProductID  int64 `json:"product_id" validate:"required" minimum:"1" example:"1"`
	ActivityID int64 `json:"activity_id" validate:"required" minimum:"1" example:"7"`
	Quantity   int64 `json:"quantity" validate:"required" minimum:"0" example:"10"`
	// Sold counts the reserved units paid for, Released those given back
	// to inventory; the rest (quantity - sold - released) is still held.
	Sold      int64     `json:"sold" validate:"required" minimum:"0" example:"6"`
	Released  int64     `json:"released" validate:"required" minimum:"0" example:"2"`
	CreatedAt time.Time `json:"created_at" validate:"required" format:"date-time" example:"2026-11-01T08:00:00Z"`
	UpdatedAt time.Time `json:"updated_at" validate:"required" format:"date-time" example:"2026-11-01T08:00:00Z"`
}

// CreateRequest is the body of POST /products.
type CreateRequest struct {
	// Name must be unique and not blank.
	Name        string       `json:"name" validate:"required" minLength:"1" maxLength:"250" example:"Mechanical keyboard"`
	Description string       `json:"description" maxLength:"600" example:"87 keys, brown switches"`
	Price       *money.Cents `json:"price" validate:"required" swaggertype:"number" minimum:"0" maximum:"9999999999.99" multipleOf:"0.01" example:"9.99"`
	Inventory   *int64       `json:"inventory" validate:"required" minimum:"0" example:"100"`
}

// Valid checks the fields of a new product.
func (c CreateRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	checkName(p, c.Name)
	checkDescription(p, c.Description)
	if c.Price == nil {
		p["price"] = "is required"
	}
	if c.Inventory == nil {
		p["inventory"] = "is required"
	} else if *c.Inventory < 0 {
		p["inventory"] = "must not be negative"
	}
	return p
}

// UpdateRequest is the body of PUT /products/{id}: the fields to change.
type UpdateRequest struct {
	Name        *string      `json:"name,omitempty" minLength:"1" maxLength:"250" example:"Mechanical keyboard v2"`
	Description *string      `json:"description,omitempty" maxLength:"600" example:"87 keys, red switches"`
	Price       *money.Cents `json:"price,omitempty" swaggertype:"number" minimum:"0" maximum:"9999999999.99" multipleOf:"0.01" example:"12.5"`
	Inventory   *int64       `json:"inventory,omitempty" minimum:"0" example:"80"`
}

// Valid checks the fields present in an update.
func (u UpdateRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	if u.Name == nil && u.Description == nil && u.Price == nil && u.Inventory == nil {
		p["body"] = "must name at least one of name, description, price, inventory"
	}
	if u.Name != nil {
		checkName(p, *u.Name)
	}
	if u.Description != nil {
		checkDescription(p, *u.Description)
	}
	if u.Inventory != nil && *u.Inventory < 0 {
		p["inventory"] = "must not be negative"
	}
	return p
}

// ReserveRequest is the body of POST /products/{id}/reservations.
type ReserveRequest struct {
	ActivityID int64 `json:"activity_id" validate:"required" minimum:"1" example:"7"`
	Quantity   int64 `json:"quantity" validate:"required" minimum:"1" example:"10"`
}

// Valid checks a reservation request.
func (r ReserveRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	if r.ActivityID <= 0 {
		p["activity_id"] = "must be a positive integer"
	}
	if r.Quantity <= 0 {
		p["quantity"] = "must be a positive integer"
	}
	return p
}

// SettleRequest is the body of
// PUT /products/{id}/reservations/{activity_id}/settlement: an activity's
// running totals of the units of its reservation that were paid for and
// that it gave back. Totals only grow; a smaller one than recorded is
// stale and changes nothing.
type SettleRequest struct {
	Sold     *int64 `json:"sold" example:"6"`
	Released *int64 `json:"released" example:"2"`
}

// Valid checks a settlement.
func (r SettleRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	for name, v := range map[string]*int64{"sold": r.Sold, "released": r.Released} {
		if v == nil || *v < 0 {
			p[name] = "is required and must not be negative"
		}
	}
	return p
}

func checkName(p errs.FieldErrors, s string) {
	switch n := utf8.RuneCountInString(s); {
	case strings.TrimSpace(s) == "":
		p["name"] = "is required"
	case n > 250:
		p["name"] = "must be at most 250 characters"
	case strings.ContainsRune(s, 0):
		p["name"] = "must not contain NUL characters"
	}
}

func checkDescription(p errs.FieldErrors, s string) {
	switch {
	case utf8.RuneCountInString(s) > 600:
		p["description"] = "must be at most 600 characters"
	case strings.ContainsRune(s, 0):
		p["description"] = "must not contain NUL characters"
	}
}
