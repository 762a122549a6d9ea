// Package config reads settings from the environment. Services declare one
// struct each and fill it through an Env, which records every bad value so
// that start-up fails with one message listing all of them.
package config

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// DefaultDatabaseURL is the database every service uses when DATABASE_URL is unset.
const DefaultDatabaseURL = "postgres://postgres@127.0.0.1:5432/seckill?sslmode=disable"

// Env reads typed values from a getenv function. It is not safe for
// concurrent use; it is meant to be used once, at start-up.
type Env struct {
	getenv func(string) string
	errs   []error
}

// New returns an Env reading from getenv (os.Getenv in production, a map in tests).
func New(getenv func(string) string) *Env { return &Env{getenv: getenv} }

// Getenv reads a raw variable, for libraries with their own standard
// variables (the Jaeger client's JAEGER_*).
func (e *Env) Getenv(key string) string { return e.getenv(key) }

// Err returns every problem found so far, joined, or nil.
func (e *Env) Err() error { return errors.Join(e.errs...) }

// Problem records a problem the caller found itself, such as a missing
// credential; its message must not hold a secret's value.
func (e *Env) Problem(err error) { e.errs = append(e.errs, err) }

// Set reports whether key has a non-blank value.
func (e *Env) Set(key string) bool {
	_, ok := e.lookup(key)
	return ok
}

func (e *Env) lookup(key string) (string, bool) {
	v := strings.TrimSpace(e.getenv(key))
	return v, v != ""
}

func (e *Env) fail(key, v, want string) {
	e.errs = append(e.errs, fmt.Errorf("config: %s=%q: want %s", key, v, want))
}

// String returns the value of key, or def when it is unset or blank.
func (e *Env) String(key, def string) string {
	if v, ok := e.lookup(key); ok {
		return v
	}
	return def
}

// Int returns the integer value of key, or def when unset.
func (e *Env) Int(key string, def int) int {
	v, ok := e.lookup(key)
	if !ok {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		e.fail(key, v, "an integer")
		return def
	}
	return n
}

// Float returns the floating-point value of key, or def when unset.
func (e *Env) Float(key string, def float64) float64 {
	v, ok := e.lookup(key)
	if !ok {
		return def
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		e.fail(key, v, "a number")
		return def
	}
	return f
}

// Bool returns the boolean value of key (true/false/1/0/yes/no), or def when unset.
func (e *Env) Bool(key string, def bool) bool {
	v, ok := e.lookup(key)
	if !ok {
		return def
	}
	switch strings.ToLower(v) {
	case "1", "true", "yes", "on":
		return true
	case "0", "false", "no", "off":
		return false
	}
	e.fail(key, v, "true or false")
	return def
}

// Duration returns the duration value of key (e.g. "5s"), or def when unset.
func (e *Env) Duration(key string, def time.Duration) time.Duration {
	v, ok := e.lookup(key)
	if !ok {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		e.fail(key, v, "a non-negative duration such as 5s")
		return def
	}
	return d
}

// URL returns the value of key, checked to be an absolute URL, or def when unset.
func (e *Env) URL(key, def string) string {
	v, ok := e.lookup(key)
	if !ok {
		return def
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme == "" || u.Host == "" {
		e.fail(key, v, "an absolute URL")
		return def
	}
	return strings.TrimRight(v, "/")
}

// Redact returns a database or service URL with its password replaced, for logging.
func Redact(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparseable URL)"
	}
	if _, ok := u.User.Password(); ok {
		u.User = url.UserPassword(u.User.Username(), "xxxxx")
	}
	return u.String()
}

// OneOf returns the value of key, which must be one of allowed (compared
// case-insensitively, returned lower-cased), or def when unset.
func (e *Env) OneOf(key, def string, allowed ...string) string {
	v, ok := e.lookup(key)
	if !ok {
		return def
	}
	for _, a := range allowed {
		if strings.EqualFold(v, a) {
			return strings.ToLower(a)
		}
	}
	e.fail(key, v, "one of "+strings.Join(allowed, ", "))
	return def
}
