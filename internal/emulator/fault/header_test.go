package fault_test

import (
	"net/http"
	"reflect"
	"testing"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

func TestAddHeader(t *testing.T) {
	t.Parallel()
	retry := http.Header{"Retry-After": {"3"}}
	tests := []struct {
		name   string
		h, add http.Header
		want   http.Header
	}{
		{"NothingToAdd", nil, nil, nil},
		{"ToNil", nil, retry, retry},
		{"Replaces", http.Header{"Retry-After": {"1"}, "X-Kept": {"k"}}, retry,
			http.Header{"Retry-After": {"3"}, "X-Kept": {"k"}}},
	}
	for _, tt := range tests {
		if got := fault.AddHeader(tt.h, tt.add); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s: AddHeader = %v, want %v", tt.name, got, tt.want)
		}
	}
}
