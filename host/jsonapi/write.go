// Package jsonapi is the host's JSON request and response helper: it
// writes every JSON answer, the 200s as well as the error shape every
// client of the host relies on ({"status":N,"message":"…","data":{…}}),
// and reads request bodies sent as JSON or as a form.
package jsonapi

import (
	"encoding/json"
	"errors"
	"net/http"
)

// Default messages of the contract.
const (
	MsgBadRequest   = "Something went wrong while processing your request."
	MsgNotFound     = "The requested resource wasn't found."
	MsgTooMany      = "Too many requests."
	MsgInternal     = "Something went wrong while processing your request."
	MsgUnauthorized = "The request requires valid record authorization token."
	MsgForbidden    = "The authorized record is not allowed to perform this action."
	MsgValidation   = "An error occurred while validating the submitted data."
)

// FieldError is one entry of an error's data object.
type FieldError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error is an API error as clients see it.
type Error struct {
	Status  int            `json:"status"`
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

func (e *Error) Error() string { return e.Message }

// New returns an error with the given status and message and empty data.
func New(status int, message string) *Error {
	return &Error{Status: status, Message: message, Data: map[string]any{}}
}

// BadRequest is a 400 with message (the default one when empty).
func BadRequest(message string) *Error {
	if message == "" {
		message = MsgBadRequest
	}
	return New(http.StatusBadRequest, message)
}

// NotFound is the default 404.
func NotFound() *Error { return New(http.StatusNotFound, MsgNotFound) }

// Unauthorized is the contract's 401.
func Unauthorized() *Error { return New(http.StatusUnauthorized, MsgUnauthorized) }

// Forbidden is a 403 with message (the superuser guard's when empty).
func Forbidden(message string) *Error {
	if message == "" {
		message = MsgForbidden
	}
	return New(http.StatusForbidden, message)
}

// Internal is the default 500.
func Internal() *Error { return New(http.StatusInternalServerError, MsgInternal) }

// Validation is a 400 with one field error in data.
func Validation(field, code, message string) *Error {
	e := BadRequest(MsgValidation)
	e.Data[field] = FieldError{Code: code, Message: message}
	return e
}

// WithField adds a field error to e and returns e.
func (e *Error) WithField(field, code, message string) *Error {
	e.Data[field] = FieldError{Code: code, Message: message}
	return e
}

// Write sends err to the client. An *Error (possibly wrapped) is sent as
// is; anything else becomes the default 500, so internal text never leaks:
// callers log the cause before calling Write.
func Write(w http.ResponseWriter, err error) {
	var apiErr *Error
	if !errors.As(err, &apiErr) {
		apiErr = Internal()
	}
	if apiErr.Data == nil {
		apiErr.Data = map[string]any{}
	}
	WriteJSON(w, apiErr.Status, apiErr)
}

// WriteJSON sends v as JSON with status.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
