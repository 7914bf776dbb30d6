package gateway

import (
	"encoding/json"
	"strconv"
)

func str(v any) string {
	s, _ := v.(string)
	return s
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

func jsonUnmarshal(s string, v any) error {
	if s == "" {
		return nil
	}
	return json.Unmarshal([]byte(s), v)
}
