package activity

import (
	"context"
	"encoding/json"
	"net/http"

	"github.com/google/uuid"

	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
	"github.com/seckill/seckill/internal/platform/money"
)

// productClient is the activity service's side of the product service API.
type productClient struct{ c *httpx.Client }

// product is what the activity service reads of a product.
type product struct {
	ID    int64       `json:"id"`
	Name  string      `json:"name"`
	Price money.Cents `json:"price"`
}

// get returns the product as the product service answers it: the typed
// fields the activity needs and the raw object to embed.
func (p productClient) get(ctx context.Context, id int64) (product, map[string]any, error) {
	var body json.RawMessage
	if err := p.c.Do(ctx, http.MethodGet, httpx.R("/products/{id}", id), nil, &body); err != nil {
		return product{}, nil, err
	}
	// The price is read from the JSON text by money.Cents, exactly; the
	// object to embed is read again as it came.
	var pr product
	var raw map[string]any
	if err := json.Unmarshal(body, &pr); err != nil {
		return product{}, nil, errs.Wrap(errs.Internal, err, "malformed product from the product service")
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return product{}, nil, errs.Wrap(errs.Internal, err, "malformed product from the product service")
	}
	return pr, raw, nil
}

func (p productClient) reserve(ctx context.Context, productID, activityID, quantity int64) error {
	body := map[string]int64{"activity_id": activityID, "quantity": quantity}
	return p.c.Do(ctx, http.MethodPost, httpx.R("/products/{id}/reservations", productID), body, nil)
}

// release returns an activity's reservation; one that is already gone is fine.
func (p productClient) release(ctx context.Context, productID, activityID int64) error {
	err := p.c.Do(ctx, http.MethodDelete, httpx.R("/products/{id}/reservations/{activity_id}", productID, activityID), nil, nil)
	if errs.Is(err, errs.NotFound) {
		return nil
	}
	return err
}

// settle tells the product service an activity's running totals of its
// reservation: units sold (paid) and released (given back). Totals only
// grow, so the call may be repeated.
func (p productClient) settle(ctx context.Context, productID, activityID, sold, released int64) error {
	body := map[string]int64{"sold": sold, "released": released}
	return p.c.Do(ctx, http.MethodPut, httpx.R("/products/{id}/reservations/{activity_id}/settlement", productID, activityID), body, nil)
}

// orderClient is the relay's side of the order service API.
type orderClient struct{ c *httpx.Client }

type orderIn struct {
	ID         uuid.UUID   `json:"id"`
	UserID     int64       `json:"user_id"`
	ActivityID int64       `json:"activity_id"`
	ProductID  int64       `json:"product_id"`
	Quantity   int         `json:"quantity"`
	Price      money.Cents `json:"price"`
}

type batchResult struct {
	Results []struct {
		ID      uuid.UUID `json:"id"`
		Status  string    `json:"status"`
		Message string    `json:"message"`
	} `json:"results"`
}

func (o orderClient) createBatch(ctx context.Context, orders []orderIn) (batchResult, error) {
	var out batchResult
	err := o.c.Do(ctx, http.MethodPost, httpx.R("/orders/batch"), map[string]any{"orders": orders}, &out)
	return out, err
}
