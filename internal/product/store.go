package product

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/seckill/seckill/internal/platform/db"
	"github.com/seckill/seckill/internal/platform/errs"
)

// Store reads and writes products in the product schema.
type Store struct {
	pool *pgxpool.Pool
}

// NewStore returns a Store on pool.
func NewStore(pool *pgxpool.Pool) *Store { return &Store{pool: pool} }

// Prices travel as whole cents and are converted in SQL, so no float ever
// touches them: numeric / 100 and numeric * 100 are exact.
const productColumns = `id, name, description, (price * 100)::bigint, inventory, reserved, sold, created_at, updated_at`

func scanProduct(row pgx.Row) (Product, error) {
	var p Product
	err := row.Scan(&p.ID, &p.Name, &p.Description, &p.Price, &p.Inventory, &p.Reserved, &p.Sold, &p.CreatedAt, &p.UpdatedAt)
	return p, err
}

const reservationColumns = `product_id, activity_id, quantity, sold, released, created_at, updated_at`

func scanReservation(row pgx.Row) (Reservation, error) {
	var r Reservation
	err := row.Scan(&r.ProductID, &r.ActivityID, &r.Quantity, &r.Sold, &r.Released, &r.CreatedAt, &r.UpdatedAt)
	return r, err
}

// Create inserts a product.
func (s *Store) Create(ctx context.Context, in CreateRequest) (_ Product, err error) {
	defer errs.Annotate(&err, "Store.Create")
	const q = `INSERT INTO product.products (name, description, price, inventory)
		VALUES ($1, $2, $3::bigint::numeric / 100, $4) RETURNING ` + productColumns
	p, err := scanProduct(s.pool.QueryRow(ctx, q, in.Name, in.Description, int64(*in.Price), *in.Inventory))
	if err != nil {
		return Product{}, db.Map(err, fmt.Sprintf("product named %q", in.Name))
	}
	return p, nil
}

// Get returns product id.
func (s *Store) Get(ctx context.Context, id int64) (_ Product, err error) {
	defer errs.Annotate(&err, "Store.Get(%d)", id)
	const q = `SELECT ` + productColumns + ` FROM product.products WHERE id = $1`
	p, err := scanProduct(s.pool.QueryRow(ctx, q, id))
	if err != nil {
		return Product{}, db.Map(err, fmt.Sprintf("product %d", id))
	}
	return p, nil
}

// List returns one page of products, oldest first, and the total count.
func (s *Store) List(ctx context.Context, limit, offset int) (_ []Product, _ int64, err error) {
	defer errs.Annotate(&err, "Store.List(%d, %d)", limit, offset)
	const q = `SELECT ` + productColumns + ` FROM product.products ORDER BY id LIMIT $1 OFFSET $2`
	rows, err := s.pool.Query(ctx, q, limit, offset)
	if err != nil {
		return nil, 0, db.Map(err, "products")
	}
	defer rows.Close()
	out := []Product{}
	var total int64
	for rows.Next() {
		var p Product
		if err := rows.Scan(&p.ID, &p.Name, &p.Description, &p.Price, &p.Inventory, &p.Reserved, &p.Sold,
			&p.CreatedAt, &p.UpdatedAt); err != nil {
			return nil, 0, db.Map(err, "products")
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, 0, db.Map(err, "products")
	}
	if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM product.products`).Scan(&total); err != nil {
		return nil, 0, db.Map(err, "products")
	}
	return out, total, nil
}

// Update changes the given fields of product id.
func (s *Store) Update(ctx context.Context, id int64, in UpdateRequest) (_ Product, err error) {
	defer errs.Annotate(&err, "Store.Update(%d)", id)
	var price *int64
	if in.Price != nil {
		v := int64(*in.Price)
		price = &v
	}
	const q = `UPDATE product.products SET
			name = COALESCE($2, name),
			description = COALESCE($3, description),
			price = COALESCE($4::bigint::numeric / 100, price),
			inventory = COALESCE($5, inventory),
			updated_at = now()
		WHERE id = $1 RETURNING ` + productColumns
	p, err := scanProduct(s.pool.QueryRow(ctx, q, id, in.Name, in.Description, price, in.Inventory))
	if err != nil {
		if errs.Is(db.Map(err, ""), errs.Conflict) && in.Name != nil {
			return Product{}, db.Map(err, fmt.Sprintf("product named %q", *in.Name))
		}
		return Product{}, db.Map(err, fmt.Sprintf("product %d", id))
	}
	return p, nil
}

// Delete removes product id, refusing while any activity holds units of
// it. Reservations whose every unit was sold or given back are history and
// go with the product.
func (s *Store) Delete(ctx context.Context, id int64) (err error) {
	defer errs.Annotate(&err, "Store.Delete(%d)", id)
	return db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		var reserved int64
		err := tx.QueryRow(ctx, `SELECT reserved FROM product.products WHERE id = $1 FOR UPDATE`, id).Scan(&reserved)
		if err != nil {
			return db.Map(err, fmt.Sprintf("product %d", id))
		}
		var n int64
		const held = `SELECT count(*) FROM product.reservations WHERE product_id = $1 AND quantity > sold + released`
		if err := tx.QueryRow(ctx, held, id).Scan(&n); err != nil {
			return db.Map(err, "reservations")
		}
		if reserved > 0 || n > 0 {
			return errs.E(errs.Conflict, "product %d has %d units reserved by %d activities; they go back when the activities end", id, reserved, n)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM product.reservations WHERE product_id = $1`, id); err != nil {
			return db.Map(err, "reservations")
		}
		if _, err := tx.Exec(ctx, `DELETE FROM product.products WHERE id = $1`, id); err != nil {
			return db.Map(err, fmt.Sprintf("product %d", id))
		}
		return nil
	})
}

// Reserve holds quantity units of product id for an activity, moving them
// from inventory to reserved. Asking again for the same activity with the
// same quantity changes nothing; with another quantity it moves only the
// difference, so an activity can grow or shrink its reservation. created
// reports whether the reservation is new.
func (s *Store) Reserve(ctx context.Context, id int64, in ReserveRequest) (res Reservation, created bool, err error) {
	defer errs.Annotate(&err, "Store.Reserve(%d, activity %d)", id, in.ActivityID)
	err = db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		// Locking the product first serialises every reservation of it, so
		// two first-time requests for one activity cannot both insert.
		var inventory int64
		err := tx.QueryRow(ctx, `SELECT inventory FROM product.products WHERE id = $1 FOR UPDATE`, id).Scan(&inventory)
		if err != nil {
			return db.Map(err, fmt.Sprintf("product %d", id))
		}
		var held, settled int64
		err = tx.QueryRow(ctx, `SELECT quantity, sold + released FROM product.reservations WHERE product_id = $1 AND activity_id = $2`,
			id, in.ActivityID).Scan(&held, &settled)
		switch {
		case err == pgx.ErrNoRows:
			created = true
		case err != nil:
			return db.Map(err, "reservation")
		}
		if in.Quantity < settled {
			return errs.E(errs.Conflict, "activity %d has settled %d units of product %d; it cannot reserve fewer", in.ActivityID, settled, id)
		}
		delta := in.Quantity - held
		if delta > inventory {
			return errs.E(errs.Conflict, "not enough inventory for product %d: %d available, %d more requested",
				id, inventory, delta)
		}
		if delta != 0 {
			const upd = `UPDATE product.products SET inventory = inventory - $2, reserved = reserved + $2, updated_at = now()
				WHERE id = $1 AND inventory >= $2`
			if _, err := tx.Exec(ctx, upd, id, delta); err != nil {
				return db.Map(err, fmt.Sprintf("product %d", id))
			}
		}
		const ups = `INSERT INTO product.reservations (product_id, activity_id, quantity) VALUES ($1, $2, $3)
			ON CONFLICT (product_id, activity_id) DO UPDATE
				SET quantity = EXCLUDED.quantity,
				    updated_at = CASE WHEN reservations.quantity = EXCLUDED.quantity THEN reservations.updated_at ELSE now() END
			RETURNING ` + reservationColumns
		res, err = scanReservation(tx.QueryRow(ctx, ups, id, in.ActivityID, in.Quantity))
		return db.Map(err, "reservation")
	})
	return res, created, err
}

// Release ends an activity's reservation of product id: the units it
// still holds (neither sold nor released) go back to inventory.
func (s *Store) Release(ctx context.Context, id, activityID int64) (_ Reservation, err error) {
	defer errs.Annotate(&err, "Store.Release(%d, activity %d)", id, activityID)
	var res Reservation
	err = db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		const del = `DELETE FROM product.reservations WHERE product_id = $1 AND activity_id = $2 RETURNING ` + reservationColumns
		var err error
		res, err = scanReservation(tx.QueryRow(ctx, del, id, activityID))
		if err != nil {
			return db.Map(err, fmt.Sprintf("reservation of product %d for activity %d", id, activityID))
		}
		const upd = `UPDATE product.products SET inventory = inventory + $2, reserved = reserved - $2, updated_at = now()
			WHERE id = $1`
		_, err = tx.Exec(ctx, upd, id, res.Quantity-res.Sold-res.Released)
		return db.Map(err, fmt.Sprintf("product %d", id))
	})
	return res, err
}

// Settle records an activity's running totals of its reservation of
// product id: units paid for move from reserved to sold, units given back
// from reserved to inventory, in one transaction, so inventory + reserved +
// sold never changes. Totals only grow: each is raised to the larger of the
// recorded and the reported value, which makes repeated, concurrent and
// reordered reports harmless.
func (s *Store) Settle(ctx context.Context, id, activityID int64, in SettleRequest) (_ Reservation, err error) {
	defer errs.Annotate(&err, "Store.Settle(%d, activity %d)", id, activityID)
	var res Reservation
	err = db.Transact(ctx, s.pool, func(tx pgx.Tx) error {
		// The product's lock first, as Reserve takes it: one order of
		// locks for every writer of a reservation.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM product.products WHERE id = $1 FOR UPDATE`, id); err != nil {
			return db.Map(err, fmt.Sprintf("product %d", id))
		}
		cur, err := scanReservation(tx.QueryRow(ctx, `SELECT `+reservationColumns+` FROM product.reservations
			WHERE product_id = $1 AND activity_id = $2`, id, activityID))
		if err != nil {
			return db.Map(err, fmt.Sprintf("reservation of product %d for activity %d", id, activityID))
		}
		sold, released := max(cur.Sold, *in.Sold), max(cur.Released, *in.Released)
		if sold+released > cur.Quantity {
			return errs.E(errs.Conflict, "activity %d reports %d units sold and %d released of the %d it reserved of product %d",
				activityID, sold, released, cur.Quantity, id)
		}
		dSold, dReleased := sold-cur.Sold, released-cur.Released
		if dSold == 0 && dReleased == 0 {
			res = cur
			return nil
		}
		const upd = `UPDATE product.products
			SET reserved = reserved - $2 - $3, sold = sold + $2, inventory = inventory + $3, updated_at = now()
			WHERE id = $1`
		if _, err := tx.Exec(ctx, upd, id, dSold, dReleased); err != nil {
			return db.Map(err, fmt.Sprintf("product %d", id))
		}
		res, err = scanReservation(tx.QueryRow(ctx, `UPDATE product.reservations SET sold = $3, released = $4, updated_at = now()
			WHERE product_id = $1 AND activity_id = $2 RETURNING `+reservationColumns, id, activityID, sold, released))
		return db.Map(err, "reservation")
	})
	return res, err
}
