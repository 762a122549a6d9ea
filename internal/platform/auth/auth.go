// Package auth decides who may call what. There are three kinds of caller,
// each sending its credential as "Authorization: Bearer <token>":
// administrators (ADMIN_TOKEN), services calling one another
// (SERVICE_TOKEN), and buyers, who with USER_JWT_SECRET set carry an HS256
// JWT whose subject is their user id, and without it are who they say they
// are. A service refuses to start without the tokens unless AUTH_DISABLED
// is true.
package auth

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/platform/errs"
	"github.com/seckill/seckill/internal/platform/httpx"
)

// Config holds the credentials a service checks and sends. Its String
// never shows them.
type Config struct {
	AdminToken   string
	ServiceToken string
	// UserSecret is the HS256 key of buyers' JWTs; empty is open buyer
	// mode, where buyers are who they say they are.
	UserSecret []byte
	// Disabled turns every check off (AUTH_DISABLED=true): anyone may do
	// anything, as in the original. Tokens that are set are still sent.
	Disabled bool
}

// Minimum lengths of the credentials: short ones can be guessed.
const (
	MinTokenLen  = 16
	MinSecretLen = 32
)

// LoadConfig reads ADMIN_TOKEN, SERVICE_TOKEN, USER_JWT_SECRET and
// AUTH_DISABLED, and records in env every reason the service must not
// start. Messages name the variables, never their values.
func LoadConfig(env *config.Env) Config {
	c := Config{
		AdminToken:   env.String("ADMIN_TOKEN", ""),
		ServiceToken: env.String("SERVICE_TOKEN", ""),
		UserSecret:   []byte(env.String("USER_JWT_SECRET", "")),
		Disabled:     env.Bool("AUTH_DISABLED", false),
	}
	if c.Disabled {
		return c
	}
	var missing []string
	for _, v := range []struct{ name, val string }{{"ADMIN_TOKEN", c.AdminToken}, {"SERVICE_TOKEN", c.ServiceToken}} {
		switch {
		case v.val == "":
			missing = append(missing, v.name)
		case len(v.val) < MinTokenLen:
			env.Problem(fmt.Errorf("config: %s is shorter than %d characters", v.name, MinTokenLen))
		}
	}
	if len(missing) > 0 {
		env.Problem(fmt.Errorf("config: %s must be set (random strings of at least %d characters, e.g. from `openssl rand -hex 32`), or AUTH_DISABLED=true to run without credentials",
			strings.Join(missing, " and "), MinTokenLen))
	}
	if c.AdminToken != "" && c.AdminToken == c.ServiceToken {
		env.Problem(errors.New("config: ADMIN_TOKEN and SERVICE_TOKEN must differ: an administrator is not a service"))
	}
	if len(c.UserSecret) > 0 && len(c.UserSecret) < MinSecretLen {
		env.Problem(fmt.Errorf("config: USER_JWT_SECRET is shorter than %d bytes", MinSecretLen))
	}
	return c
}

// String describes the configuration for the start-up log, without secrets.
func (c Config) String() string {
	switch {
	case c.Disabled:
		return "disabled"
	case len(c.UserSecret) > 0:
		return "admin and service tokens, buyer JWT"
	}
	return "admin and service tokens, open buyers"
}

// Role is what a caller is.
type Role uint8

// The roles of callers.
const (
	Anonymous Role = iota // no credential
	Admin                 // ADMIN_TOKEN
	Service               // SERVICE_TOKEN
	Buyer                 // a valid buyer JWT
)

// Caller is who sent a request.
type Caller struct {
	Role   Role
	UserID int64 // the JWT's subject, for Buyer
}

// Authenticator checks requests against a Config.
type Authenticator struct {
	admin, service [sha256.Size]byte
	secret         []byte
	disabled       bool
	parser         *jwt.Parser
}

// New returns an Authenticator for c; now (nil for time.Now) is the clock
// JWT expiry is judged by.
func New(c Config, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	return &Authenticator{
		admin:    sha256.Sum256([]byte(c.AdminToken)),
		service:  sha256.Sum256([]byte(c.ServiceToken)),
		secret:   c.UserSecret,
		disabled: c.Disabled,
		parser:   jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithTimeFunc(now)),
	}
}

// OpenBuyers reports whether buyers are who they say they are (no
// USER_JWT_SECRET, or auth disabled).
func (a *Authenticator) OpenBuyers() bool { return a.disabled || len(a.secret) == 0 }

var errNoCredential = errs.E(errs.Unauthenticated, "this endpoint needs a credential: send Authorization: Bearer <token>")

// identify reads the request's credential. No Authorization header is an
// Anonymous caller; one that is not a valid credential is an error.
func (a *Authenticator) identify(r *http.Request) (Caller, error) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return Caller{Role: Anonymous}, nil
	}
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return Caller{}, errs.E(errs.Unauthenticated, "the Authorization header must be: Bearer <token>")
	}
	// Hashing first makes both comparisons constant-time whatever the
	// lengths; both are always made.
	sum := sha256.Sum256([]byte(token))
	isAdmin := subtle.ConstantTimeCompare(sum[:], a.admin[:])
	isService := subtle.ConstantTimeCompare(sum[:], a.service[:])
	switch {
	case isAdmin == 1:
		return Caller{Role: Admin}, nil
	case isService == 1:
		return Caller{Role: Service}, nil
	case len(a.secret) > 0 && strings.Count(token, ".") == 2:
		return a.buyer(token)
	}
	return Caller{}, errs.E(errs.Unauthenticated, "the credential is not valid")
}

// buyer verifies a buyer's JWT: HS256 with the configured secret, not
// expired, its subject a user id in decimal.
func (a *Authenticator) buyer(token string) (Caller, error) {
	var claims jwt.RegisteredClaims
	_, err := a.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.secret, nil })
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return Caller{}, errs.E(errs.Unauthenticated, "the token has expired")
	case err != nil:
		return Caller{}, errs.E(errs.Unauthenticated, "the credential is not valid")
	}
	id, ok := ParseUserID(claims.Subject)
	if !ok {
		return Caller{}, errs.E(errs.Unauthenticated, "the token's sub must be a user id in decimal")
	}
	return Caller{Role: Buyer, UserID: id}, nil
}

// ParseUserID parses a positive decimal id with no sign, leading zeros or
// anything else around it.
func ParseUserID(s string) (int64, bool) {
	if s == "" || len(s) > 19 || s[0] < '1' || s[0] > '9' {
		return 0, false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	id, err := strconv.ParseInt(s, 10, 64)
	return id, err == nil
}

type ctxKey struct{}

// Require admits requests whose caller has one of roles, and answers the
// others 401 (no or an invalid credential, with WWW-Authenticate) or 403
// (a valid credential of another kind) in the error envelope, before the
// handler runs. A route that admits Buyer admits anyone in open buyer
// mode; the handler then checks with Permit that the caller acts for the
// user the request names.
func (a *Authenticator) Require(roles ...Role) func(http.Handler) http.Handler {
	openBuyer := false
	for _, r := range roles {
		openBuyer = openBuyer || (r == Buyer && len(a.secret) == 0)
	}
	return func(next http.Handler) http.Handler {
		if a.disabled {
			return next
		}
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := a.identify(r)
			if err != nil {
				httpx.Error(w, r, err)
				return
			}
			if c.Role == Anonymous {
				if openBuyer {
					next.ServeHTTP(w, r)
					return
				}
				httpx.Error(w, r, errNoCredential)
				return
			}
			for _, role := range roles {
				if c.Role == role {
					next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, c)))
					return
				}
			}
			httpx.Error(w, r, errs.E(errs.Forbidden, "this credential may not %s %s", r.Method, r.URL.Path))
		})
	}
}

// From returns the caller Require admitted; Anonymous in open buyer mode or
// with auth disabled.
func From(ctx context.Context) Caller {
	c, _ := ctx.Value(ctxKey{}).(Caller)
	return c
}

// Permit reports whether the request's caller may act for userID: an
// administrator may (on the routes that admit one), a buyer only for
// itself, and in open buyer mode anyone. The answer is a Forbidden error.
func (a *Authenticator) Permit(ctx context.Context, userID int64) error {
	c := From(ctx)
	if a.disabled || c.Role == Admin || (c.Role == Anonymous && len(a.secret) == 0) {
		return nil
	}
	if c.Role == Buyer && c.UserID == userID {
		return nil
	}
	if c.Role == Buyer {
		return errs.E(errs.Forbidden, "this token acts for user %d, not user %d", c.UserID, userID)
	}
	return errs.E(errs.Forbidden, "this credential may not act for user %d", userID)
}

// SeesEveryone reports whether the request's caller may read every user's
// data: an administrator, or anyone with auth disabled. Otherwise it
// returns the error to answer: 401 for no credential, 403 for a buyer.
func (a *Authenticator) SeesEveryone(ctx context.Context) error {
	c := From(ctx)
	switch {
	case a.disabled || c.Role == Admin:
		return nil
	case c.Role == Anonymous:
		return errs.E(errs.Unauthenticated, "reading every user's data needs the admin token")
	}
	return errs.E(errs.Forbidden, "reading every user's data needs the admin token")
}
