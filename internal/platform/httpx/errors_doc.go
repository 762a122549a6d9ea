package httpx

// The types below exist only for the Swagger documents: each is an
// ErrorEnvelope as it looks under one status, so every status's schema pins
// its code and kind and shows an example that matches it. At run time every
// error is written as an ErrorEnvelope by Error.

// BadRequestError is the 400 answer: the input breaks a rule. Fields names
// each bad field with what is expected of it.
type BadRequestError struct {
	Code       int               `json:"code" validate:"required" enums:"400" example:"400"`
	Message    string            `json:"message" validate:"required" example:"invalid request: price: must be a number with at most two decimals, from 0 to 9999999999.99"`
	Error      string            `json:"error" validate:"required" enums:"invalid" example:"invalid"`
	StatusCode int               `json:"status_code" validate:"required" enums:"400" example:"400"`
	Fields     map[string]string `json:"fields,omitempty"`
}

// NotFoundError is the 404 answer: the thing asked for does not exist, or
// no route matches the path.
type NotFoundError struct {
	Code       int    `json:"code" validate:"required" enums:"404" example:"404"`
	Message    string `json:"message" validate:"required" example:"product 7 not found"`
	Error      string `json:"error" validate:"required" enums:"not_found" example:"not_found"`
	StatusCode int    `json:"status_code" validate:"required" enums:"404" example:"404"`
}

// MethodNotAllowedError is the 405 answer: the path exists, the method
// does not; the Allow header lists the methods it has.
type MethodNotAllowedError struct {
	Code       int    `json:"code" validate:"required" enums:"405" example:"405"`
	Message    string `json:"message" validate:"required" example:"method PATCH not allowed on /products/7"`
	Error      string `json:"error" validate:"required" enums:"method_not_allowed" example:"method_not_allowed"`
	StatusCode int    `json:"status_code" validate:"required" enums:"405" example:"405"`
}

// ConflictError is the 409 answer: the request contradicts the current
// state.
type ConflictError struct {
	Code       int    `json:"code" validate:"required" enums:"409" example:"409"`
	Message    string `json:"message" validate:"required" example:"not enough inventory for product 1: 3 available, 10 more requested"`
	Error      string `json:"error" validate:"required" enums:"conflict" example:"conflict"`
	StatusCode int    `json:"status_code" validate:"required" enums:"409" example:"409"`
}

// TooLargeError is the 413 answer: the body is over MaxBodyBytes.
type TooLargeError struct {
	Code       int    `json:"code" validate:"required" enums:"413" example:"413"`
	Message    string `json:"message" validate:"required" example:"request body is larger than 1048576 bytes"`
	Error      string `json:"error" validate:"required" enums:"too_large" example:"too_large"`
	StatusCode int    `json:"status_code" validate:"required" enums:"413" example:"413"`
}

// TooManyRequestsError is the 429 answer: a rate limit refused the
// request; Retry-After says when to try again.
type TooManyRequestsError struct {
	Code       int    `json:"code" validate:"required" enums:"429" example:"429"`
	Message    string `json:"message" validate:"required" example:"too many requests for this user; retry later"`
	Error      string `json:"error" validate:"required" enums:"too_many_requests" example:"too_many_requests"`
	StatusCode int    `json:"status_code" validate:"required" enums:"429" example:"429"`
}

// InternalError is the 500 answer: a bug or an unexpected failure, whose
// cause is logged and never shown.
type InternalError struct {
	Code       int    `json:"code" validate:"required" enums:"500" example:"500"`
	Message    string `json:"message" validate:"required" example:"internal error"`
	Error      string `json:"error" validate:"required" enums:"internal" example:"internal"`
	StatusCode int    `json:"status_code" validate:"required" enums:"500" example:"500"`
}

// UnavailableError is the 503 answer: the database or a peer service is
// down, or the request ran out of time, or (GET /readyz only) the instance
// is shutting down. Nothing was changed, or the change is on disk and a GET
// tells it.
type UnavailableError struct {
	Code       int    `json:"code" validate:"required" enums:"503" example:"503"`
	Message    string `json:"message" validate:"required" example:"database unavailable"`
	Error      string `json:"error" validate:"required" enums:"unavailable" example:"unavailable"`
	StatusCode int    `json:"status_code" validate:"required" enums:"503" example:"503"`
}
