package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/seckill/seckill/internal/platform/auth"
	"github.com/seckill/seckill/internal/platform/config"
	"github.com/seckill/seckill/internal/platform/httpx"
)

const (
	adminToken   = "test-admin-token-0123456789"
	serviceToken = "test-service-token-0123456789"
	secret       = "test-user-jwt-secret-0123456789abcdef"
)

// now is the clock every test Authenticator reads.
var now = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

func newAuth(c auth.Config) *auth.Authenticator {
	c.AdminToken, c.ServiceToken = adminToken, serviceToken
	return auth.New(c, func() time.Time { return now })
}

// sign returns an HS256 JWT of the header and claims exactly as written,
// duplicate keys and all.
func sign(t *testing.T, header, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	s := enc.EncodeToString([]byte(header)) + "." + enc.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(s, []byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s + "." + enc.EncodeToString(sig)
}

const hs256 = `{"alg":"HS256","typ":"JWT"}`

// at is now moved by d, in seconds since the epoch.
func at(d time.Duration) int64 { return now.Add(d).Unix() }

// call sends a request with the Authorization headers given through a
// route that admits every kind of caller, and returns the status and the
// error envelope.
func call(t *testing.T, a *auth.Authenticator, authorization ...string) (int, httpx.ErrorEnvelope) {
	t.Helper()
	h := a.Require(auth.Admin, auth.Service, auth.Buyer)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.OK(w, "in")
	}))
	req := httptest.NewRequest("GET", "/", nil)
	for _, v := range authorization {
		req.Header.Add("Authorization", v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, req)
	var env httpx.ErrorEnvelope
	if w.Code != http.StatusOK {
		if err := json.Unmarshal(w.Body.Bytes(), &env); err != nil || env.StatusCode != w.Code {
			t.Fatalf("status %d with body %s: not the error envelope", w.Code, w.Body)
		}
	}
	return w.Code, env
}

// TestAuthenticator_BuyerTokenRules signs buyer tokens that break one rule
// each, and a few at the edge of one that pass.
func TestAuthenticator_BuyerTokenRules(t *testing.T) {
	a := newAuth(auth.Config{UserSecret: []byte(secret)})
	for _, tc := range []struct {
		name, header, claims string
		want                 int
	}{
		{"Valid", hs256, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(time.Hour)), 200},
		{"ValidWithIat", hs256, fmt.Sprintf(`{"sub":"7","iat":%d,"exp":%d}`, at(0), at(time.Hour)), 200},

		{"NoExp", hs256, `{"sub":"7"}`, 401},
		{"NullExp", hs256, `{"sub":"7","exp":null}`, 401},
		{"ExpiresNow", hs256, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(0)), 401},
		{"Expired", hs256, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(-time.Second)), 401},

		{"LifetimeAtMax", hs256, fmt.Sprintf(`{"sub":"7","iat":%d,"exp":%d}`, at(0), at(24*time.Hour)), 200},
		{"LifetimeOverMax", hs256, fmt.Sprintf(`{"sub":"7","iat":%d,"exp":%d}`, at(0), at(24*time.Hour+time.Second)), 401},
		{"LifetimeOverMaxFromAnOldIat", hs256, fmt.Sprintf(`{"sub":"7","iat":%d,"exp":%d}`, at(-23*time.Hour), at(2*time.Hour)), 401},
		{"NoIatExpWithinMax", hs256, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(24*time.Hour)), 200},
		{"NoIatExpBeyondMax", hs256, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(24*time.Hour+time.Second)), 401},

		{"IatWithinLeeway", hs256, fmt.Sprintf(`{"sub":"7","iat":%d,"exp":%d}`, at(30*time.Second), at(time.Hour)), 200},
		{"IatInTheFuture", hs256, fmt.Sprintf(`{"sub":"7","iat":%d,"exp":%d}`, at(31*time.Second), at(time.Hour)), 401},
		{"NbfWithinLeeway", hs256, fmt.Sprintf(`{"sub":"7","nbf":%d,"exp":%d}`, at(30*time.Second), at(time.Hour)), 200},
		{"NbfInTheFuture", hs256, fmt.Sprintf(`{"sub":"7","nbf":%d,"exp":%d}`, at(31*time.Second), at(time.Hour)), 401},

		{"TwoSubs", hs256, fmt.Sprintf(`{"sub":"7","exp":%d,"sub":"8"}`, at(time.Hour)), 401},
		{"TwoSubsInOtherCase", hs256, fmt.Sprintf(`{"sub":"7","exp":%d,"Sub":"8"}`, at(time.Hour)), 401},
		{"TwoExps", hs256, fmt.Sprintf(`{"sub":"7","exp":%d,"exp":%d}`, at(time.Hour), at(-time.Hour)), 401},
		{"TwoOfAnyClaim", hs256, fmt.Sprintf(`{"sub":"7","exp":%d,"role":"a","role":"b"}`, at(time.Hour)), 401},
		{"TwoKeysInANestedClaim", hs256, fmt.Sprintf(`{"sub":"7","exp":%d,"x":{"a":1,"a":2}}`, at(time.Hour)), 401},
		{"TwoAlgsInTheHeader", `{"alg":"HS256","typ":"JWT","alg":"HS256"}`, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(time.Hour)), 401},

		{"SubNotDecimal", hs256, fmt.Sprintf(`{"sub":"07","exp":%d}`, at(time.Hour)), 401},
		{"OtherAlgorithm", `{"alg":"none","typ":"JWT"}`, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(time.Hour)), 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, env := call(t, a, "Bearer "+sign(t, tc.header, tc.claims))
			if got != tc.want {
				t.Errorf("status %d (%s), want %d", got, env.Message, tc.want)
			}
		})
	}
}

// TestAuthenticator_MaxLifetime: a shorter USER_JWT_MAX_LIFETIME refuses
// a token the default would take.
func TestAuthenticator_MaxLifetime(t *testing.T) {
	a := newAuth(auth.Config{UserSecret: []byte(secret), MaxLifetime: time.Hour})
	for _, tc := range []struct {
		exp  time.Duration
		want int
	}{{time.Hour, 200}, {time.Hour + time.Second, 401}} {
		if got, env := call(t, a, "Bearer "+sign(t, hs256, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(tc.exp)))); got != tc.want {
			t.Errorf("exp in %s: status %d (%s), want %d", tc.exp, got, env.Message, tc.want)
		}
	}
}

// TestAuthenticator_TwoAuthorizationHeaders: whatever the credentials, two
// Authorization headers are 400, with buyer JWTs and without.
func TestAuthenticator_TwoAuthorizationHeaders(t *testing.T) {
	buyer := "Bearer " + sign(t, hs256, fmt.Sprintf(`{"sub":"7","exp":%d}`, at(time.Hour)))
	for _, mode := range []struct {
		name string
		c    auth.Config
	}{{"JWTBuyers", auth.Config{UserSecret: []byte(secret)}}, {"OpenBuyers", auth.Config{}}} {
		a := newAuth(mode.c)
		for _, tc := range []struct {
			name    string
			headers []string
		}{
			{"Admin", []string{"Bearer " + adminToken, "Bearer " + adminToken}},
			{"Service", []string{"Bearer " + serviceToken, "Bearer " + serviceToken}},
			{"Buyer", []string{buyer, buyer}},
			{"AdminAndService", []string{"Bearer " + adminToken, "Bearer " + serviceToken}},
			{"BuyerAndAdmin", []string{buyer, "Bearer " + adminToken}},
			{"EmptyAndAdmin", []string{"", "Bearer " + adminToken}},
			{"Garbage", []string{"Basic eDp5", "Bearer x"}},
		} {
			t.Run(mode.name+"/"+tc.name, func(t *testing.T) {
				got, env := call(t, a, tc.headers...)
				if got != http.StatusBadRequest || env.Error != "invalid" || !strings.Contains(env.Message, "one Authorization header") {
					t.Errorf("status %d, envelope %+v; want 400 invalid", got, env)
				}
			})
		}
		t.Run(mode.name+"/OneIsFine", func(t *testing.T) {
			if got, env := call(t, a, "Bearer "+adminToken); got != 200 {
				t.Errorf("one admin token: status %d (%s)", got, env.Message)
			}
		})
	}
}

// TestLoadConfig_MaxLifetime reads USER_JWT_MAX_LIFETIME: 24h when unset,
// and a bad value stops the start with a message that names it.
func TestLoadConfig_MaxLifetime(t *testing.T) {
	for _, tc := range []struct {
		value   string
		want    time.Duration
		wantErr bool
	}{
		{"", 24 * time.Hour, false},
		{"2h", 2 * time.Hour, false},
		{"0s", 0, true},
		{"-1h", 0, true},
		{"a day", 0, true},
	} {
		t.Run(tc.value, func(t *testing.T) {
			env := config.New(func(k string) string {
				return map[string]string{"ADMIN_TOKEN": adminToken, "SERVICE_TOKEN": serviceToken, "USER_JWT_MAX_LIFETIME": tc.value}[k]
			})
			c := auth.LoadConfig(env)
			err := env.Err()
			switch {
			case tc.wantErr && (err == nil || !strings.Contains(err.Error(), "USER_JWT_MAX_LIFETIME")):
				t.Errorf("error %v, want one naming USER_JWT_MAX_LIFETIME", err)
			case !tc.wantErr && err != nil:
				t.Errorf("error %v", err)
			case !tc.wantErr && c.MaxLifetime != tc.want:
				t.Errorf("MaxLifetime %s, want %s", c.MaxLifetime, tc.want)
			}
		})
	}
}
