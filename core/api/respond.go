package api

import (
	"encoding/json"
	"net/http"
	"time"
)

// errorBody is the error shape clients read (they show "message").
type errorBody struct {
	Success bool   `json:"success"`
	Message string `json:"message"`
}

// actionBody answers a successful action.
type actionBody struct {
	Success   bool   `json:"success"`
	Message   string `json:"message"`
	Timestamp string `json:"timestamp"`
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		code, b = http.StatusInternalServerError, []byte(`{"success":false,"message":"encode response"}`)
	}
	writeRaw(w, code, b)
}

func writeRaw(w http.ResponseWriter, code int, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_, _ = w.Write(b)
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Success: false, Message: msg})
}

func writeAction(w http.ResponseWriter, msg string) {
	writeJSON(w, http.StatusOK, actionBody{Success: true, Message: msg, Timestamp: time.Now().Format(time.RFC3339)})
}
