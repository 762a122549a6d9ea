package order

import (
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/money"
)

// Order statuses. An order is created, then exactly one of paid,
// cancelled (by its buyer) or expired (unpaid at its pay_by); the last
// three are final.
const (
	StatusCreated   = "created"
	StatusPaid      = "paid"
	StatusCancelled = "cancelled"
	StatusExpired   = "expired"
)

// Order is what a winner gets.
type Order struct {
	ID         uuid.UUID   `json:"id" validate:"required" swaggertype:"string" format:"uuid" example:"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"`
	UserID     int64       `json:"user_id" validate:"required" minimum:"1" example:"10001"`
	ActivityID int64       `json:"activity_id" validate:"required" minimum:"1" example:"1"`
	ProductID  int64       `json:"product_id" validate:"required" minimum:"1" example:"1"`
	Quantity   int         `json:"quantity" validate:"required" minimum:"1" maximum:"1000000" example:"1"`
	Price      money.Cents `json:"price" validate:"required" swaggertype:"number" minimum:"0" maximum:"9999999999.99" multipleOf:"0.01" example:"9.99"`
	Status     string      `json:"status" validate:"required" enums:"created,paid,cancelled,expired" example:"created"`
	// PayBy is the payment deadline: a created order still unpaid then
	// expires, and its unit goes back on sale.
	PayBy     time.Time `json:"pay_by" validate:"required" format:"date-time" example:"2026-11-11T00:15:00Z"`
	CreatedAt time.Time `json:"created_at" validate:"required" format:"date-time" example:"2026-11-11T00:00:01Z"`
	UpdatedAt time.Time `json:"updated_at" validate:"required" format:"date-time" example:"2026-11-11T00:00:01Z"`
}

// CreateRequest is one order to record, as the activity service sends it.
// The id is chosen by the caller at win time, which makes the call
// idempotent.
type CreateRequest struct {
	ID         uuid.UUID    `json:"id" validate:"required" swaggertype:"string" format:"uuid" example:"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"`
	UserID     int64        `json:"user_id" validate:"required" minimum:"1" example:"10001"`
	ActivityID int64        `json:"activity_id" validate:"required" minimum:"1" example:"1"`
	ProductID  int64        `json:"product_id" validate:"required" minimum:"1" example:"1"`
	Quantity   int          `json:"quantity" validate:"required" minimum:"1" maximum:"1000000" example:"1"`
	Price      *money.Cents `json:"price" validate:"required" swaggertype:"number" minimum:"0" maximum:"9999999999.99" multipleOf:"0.01" example:"9.99"`
}

// Valid checks an order.
func (c CreateRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	c.check(p, "")
	return p
}

func (c CreateRequest) check(p errs.FieldErrors, prefix string) {
	if c.ID == uuid.Nil {
		p[prefix+"id"] = "is required (a UUID)"
	}
	if c.UserID <= 0 {
		p[prefix+"user_id"] = "must be a positive integer"
	}
	if c.ActivityID <= 0 {
		p[prefix+"activity_id"] = "must be a positive integer"
	}
	if c.ProductID <= 0 {
		p[prefix+"product_id"] = "must be a positive integer"
	}
	if c.Quantity <= 0 || c.Quantity > 1_000_000 {
		p[prefix+"quantity"] = "must be a positive integer of at most 1000000"
	}
	if c.Price == nil {
		p[prefix+"price"] = "is required"
	}
}

// same reports whether o records exactly the order c asks for.
func (c CreateRequest) same(o Order) bool {
	return c.ID == o.ID && c.UserID == o.UserID && c.ActivityID == o.ActivityID && c.ProductID == o.ProductID &&
		c.Quantity == o.Quantity && *c.Price == o.Price
}

// MaxBatch is the most orders one batch may hold.
const MaxBatch = 1000

// BatchRequest is the body of POST /orders/batch.
type BatchRequest struct {
	Orders []CreateRequest `json:"orders" validate:"required,min=1,max=1000"`
}

// Valid checks every order of a batch, naming each problem by its index.
func (b BatchRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	switch n := len(b.Orders); {
	case n == 0:
		p["orders"] = "must hold at least one order"
	case n > MaxBatch:
		p["orders"] = fmt.Sprintf("must hold at most %d orders", MaxBatch)
	default:
		for i, o := range b.Orders {
			o.check(p, fmt.Sprintf("orders[%d].", i))
		}
	}
	return p
}

// Result statuses of a batch item.
const (
	ResultCreated  = "created"
	ResultExisting = "existing"
	ResultConflict = "conflict"
)

// BatchItem is the fate of one order of a batch.
type BatchItem struct {
	ID      uuid.UUID `json:"id" validate:"required" swaggertype:"string" format:"uuid" example:"0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10"`
	Status  string    `json:"status" validate:"required" enums:"created,existing,conflict" example:"created"`
	Message string    `json:"message,omitempty" example:"order 0193a5e4-8f7e-7b7c-9a41-2c1f4e8b9d10 exists with other content"`
}

// BatchResult answers POST /orders/batch, one item per order in input order.
type BatchResult struct {
	Results   []BatchItem `json:"results" validate:"required"`
	Created   int         `json:"created" validate:"required" minimum:"0" example:"1"`
	Existing  int         `json:"existing" validate:"required" minimum:"0" example:"0"`
	Conflicts int         `json:"conflicts" validate:"required" minimum:"0" example:"0"`
}

// BuyerRequest is the body of POST /orders/{id}/pay and
// POST /orders/{id}/cancel: the buyer names themselves.
type BuyerRequest struct {
	UserID int64 `json:"user_id" validate:"required" minimum:"1" example:"10001"`
}

// Valid checks a buyer request.
func (b BuyerRequest) Valid() errs.FieldErrors {
	p := errs.FieldErrors{}
	if b.UserID <= 0 {
		p["user_id"] = "is required and must be a positive integer"
	}
	return p
}

// Settlement is an order's final status as the activity service is told
// it: paid counts the unit as sold, cancelled and expired give it back.
type Settlement struct {
	OrderID    uuid.UUID `json:"order_id"`
	ActivityID int64     `json:"activity_id"`
	UserID     int64     `json:"user_id"`
	Status     string    `json:"status"`
}
