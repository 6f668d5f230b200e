package httpapi

import (
	"encoding/json"
	"net/http"
	"strconv"
)

// apiError is an API failure with its HTTP status. Its JSON form is
// {"error": message, "code": status}, what Soketi answers and what every
// Pusher SDK surfaces as the error text.
type apiError struct {
	Status  int
	Message string
}

func (e *apiError) Error() string { return strconv.Itoa(e.Status) + " " + e.Message }

func badRequest(msg string) *apiError   { return &apiError{http.StatusBadRequest, msg} }
func unauthorized(msg string) *apiError { return &apiError{http.StatusUnauthorized, msg} }
func tooLarge(msg string) *apiError     { return &apiError{http.StatusRequestEntityTooLarge, msg} }
func unavailable(msg string) *apiError  { return &apiError{http.StatusServiceUnavailable, msg} }

func writeError(w http.ResponseWriter, err *apiError) {
	writeJSON(w, err.Status, map[string]any{"error": err.Message, "code": err.Status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// emptyObject is the body of a successful trigger without info.
var emptyObject = []byte("{}\n")

func writeEmpty(w http.ResponseWriter) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(emptyObject)
}
