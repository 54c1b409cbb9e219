package status

import (
	"encoding/json"
	"io"
)

// JSONArray writes a JSON array element by element, laid out as a
// json.Encoder indenting by two spaces lays out the whole array, so that a
// listing of any length is written without holding it: the /api/payments
// answer, and `posagent queue list -json` and `queue export -format json`.
type JSONArray struct {
	w io.Writer
	n int
}

// NewJSONArray returns a JSONArray writing to w; nothing is written until
// Add or Close.
func NewJSONArray(w io.Writer) *JSONArray { return &JSONArray{w: w} }

// Add writes v as the next element.
func (a *JSONArray) Add(v any) error {
	j, err := json.MarshalIndent(v, "  ", "  ")
	if err != nil {
		return err
	}
	sep := ",\n  "
	if a.n == 0 {
		sep = "[\n  "
	}
	a.n++
	if _, err := io.WriteString(a.w, sep); err != nil {
		return err
	}
	_, err = a.w.Write(j)
	return err
}

// Close ends the array: "[]" when no element was added.
func (a *JSONArray) Close() error {
	end := "\n]\n"
	if a.n == 0 {
		end = "[]\n"
	}
	_, err := io.WriteString(a.w, end)
	return err
}
