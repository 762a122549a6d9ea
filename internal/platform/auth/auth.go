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
	"encoding/base64"
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
	// MaxLifetime bounds a buyer token's lifetime, exp - iat (exp - now
	// without iat): a leaked token is good for at most this long.
	MaxLifetime time.Duration
	// Disabled turns every check off (AUTH_DISABLED=true): anyone may do
	// anything, as in the original. Tokens that are set are still sent.
	Disabled bool
}

// Minimum lengths of the credentials: short ones can be guessed.
const (
	MinTokenLen  = 16
	MinSecretLen = 32
)

// DefaultMaxLifetime is the longest a buyer token may live when
// USER_JWT_MAX_LIFETIME is unset: a day, a login's usual length.
const DefaultMaxLifetime = 24 * time.Hour

// ClockLeeway is how far in the future a buyer token's iat and nbf may lie:
// the login service's clock and this one's may differ by that much. exp
// gets no leeway: a token is refused from the second it names.
const ClockLeeway = 30 * time.Second

// LoadConfig reads ADMIN_TOKEN, SERVICE_TOKEN, USER_JWT_SECRET,
// USER_JWT_MAX_LIFETIME and AUTH_DISABLED, and records in env every reason
// the service must not start. Messages name the variables, never the
// credentials' values.
func LoadConfig(env *config.Env) Config {
	c := Config{
		AdminToken:   env.String("ADMIN_TOKEN", ""),
		ServiceToken: env.String("SERVICE_TOKEN", ""),
		UserSecret:   []byte(env.String("USER_JWT_SECRET", "")),
		MaxLifetime:  env.Duration("USER_JWT_MAX_LIFETIME", DefaultMaxLifetime),
		Disabled:     env.Bool("AUTH_DISABLED", false),
	}
	if c.MaxLifetime <= 0 {
		// Zero would refuse every token; a typo is better caught at start.
		env.Problem(errors.New("config: USER_JWT_MAX_LIFETIME must be a positive duration such as 24h"))
		c.MaxLifetime = DefaultMaxLifetime
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
		return "admin and service tokens, buyer JWT living at most " + c.MaxLifetime.String()
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
	maxLifetime    time.Duration
	disabled       bool
	now            func() time.Time
	parser         *jwt.Parser
}

// New returns an Authenticator for c; now (nil for time.Now) is the clock
// JWT times are judged by. A zero c.MaxLifetime is DefaultMaxLifetime.
func New(c Config, now func() time.Time) *Authenticator {
	if now == nil {
		now = time.Now
	}
	if c.MaxLifetime <= 0 {
		c.MaxLifetime = DefaultMaxLifetime
	}
	return &Authenticator{
		admin:       sha256.Sum256([]byte(c.AdminToken)),
		service:     sha256.Sum256([]byte(c.ServiceToken)),
		secret:      c.UserSecret,
		maxLifetime: c.MaxLifetime,
		disabled:    c.Disabled,
		now:         now,
		// The library checks the signature and the algorithm; the time
		// rules are checkTimes', in one place, because the library's one
		// leeway would apply to exp as well.
		parser: jwt.NewParser(jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}), jwt.WithoutClaimsValidation()),
	}
}

// OpenBuyers reports whether buyers are who they say they are (no
// USER_JWT_SECRET, or auth disabled).
func (a *Authenticator) OpenBuyers() bool { return a.disabled || len(a.secret) == 0 }

var errNoCredential = errs.E(errs.Unauthenticated, "this endpoint needs a credential: send Authorization: Bearer <token>")

// identify reads the request's credential. No Authorization header is an
// Anonymous caller; one that is not a valid credential is an error, and
// two are an Invalid one: a proxy may check one and the service read the
// other.
func (a *Authenticator) identify(r *http.Request) (Caller, error) {
	// A map lookup, no copy: this runs on every purchase.
	hs := r.Header["Authorization"]
	if len(hs) > 1 {
		return Caller{}, errs.E(errs.Invalid, "send one Authorization header, not %d", len(hs))
	}
	if len(hs) == 0 || hs[0] == "" {
		return Caller{Role: Anonymous}, nil
	}
	h := hs[0]
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

// buyer verifies a buyer's JWT: HS256 with the configured secret, no key
// twice in its header or claims, its times within checkTimes' rules, its
// subject a user id in decimal.
func (a *Authenticator) buyer(token string) (Caller, error) {
	var claims jwt.RegisteredClaims
	if _, err := a.parser.ParseWithClaims(token, &claims, func(*jwt.Token) (any, error) { return a.secret, nil }); err != nil {
		return Caller{}, errs.E(errs.Unauthenticated, "the credential is not valid")
	}
	// The library keeps the last of two equal keys; another reader of the
	// same token (a gateway, an audit log) may keep the first. Checked
	// after the signature, so only a token the login service signed costs
	// the second decoding.
	head, rest, _ := strings.Cut(token, ".")
	payload, _, _ := strings.Cut(rest, ".")
	for _, seg := range [...]string{head, payload} {
		b, err := base64.RawURLEncoding.DecodeString(seg)
		if err == nil {
			err = httpx.UniqueKeys(b)
		}
		if err != nil {
			return Caller{}, errs.E(errs.Unauthenticated, "the token is not valid: %s", errs.MessageOf(err))
		}
	}
	if err := a.checkTimes(&claims); err != nil {
		return Caller{}, err
	}
	id, ok := ParseUserID(claims.Subject)
	if !ok {
		return Caller{}, errs.E(errs.Unauthenticated, "the token's sub must be a user id in decimal")
	}
	return Caller{Role: Buyer, UserID: id}, nil
}

// checkTimes applies the time rules to a buyer token's claims: exp is
// required and in the future; iat and nbf, when present, are no more than
// ClockLeeway ahead; and the token lives no longer than maxLifetime,
// counted from iat, or from now when there is none.
func (a *Authenticator) checkTimes(c *jwt.RegisteredClaims) error {
	now := a.now()
	switch {
	case c.ExpiresAt == nil:
		// A token without exp (or with "exp": null) would be good forever.
		return errs.E(errs.Unauthenticated, "the token must carry exp")
	case !now.Before(c.ExpiresAt.Time):
		return errs.E(errs.Unauthenticated, "the token has expired")
	case c.IssuedAt != nil && c.IssuedAt.After(now.Add(ClockLeeway)):
		return errs.E(errs.Unauthenticated, "the token's iat is in the future")
	case c.NotBefore != nil && c.NotBefore.After(now.Add(ClockLeeway)):
		return errs.E(errs.Unauthenticated, "the token is not valid yet (nbf)")
	}
	from := now
	if c.IssuedAt != nil {
		from = c.IssuedAt.Time
	}
	if c.ExpiresAt.Sub(from) > a.maxLifetime {
		return errs.E(errs.Unauthenticated, "the token lives longer than the %s this service accepts", a.maxLifetime)
	}
	return nil
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
// others 401 (no or an invalid credential, with WWW-Authenticate), 403 (a
// valid credential of another kind) or 400 (two Authorization headers) in
// the error envelope, before the handler runs. A route that admits Buyer admits anyone in open buyer
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
