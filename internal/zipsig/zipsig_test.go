package zipsig

import "testing"

func TestStarts(t *testing.T) {
	tests := []struct {
		head string
		want bool
	}{
		{"PK\x03\x04", true},
		{"PK\x03\x04rest", true},
		{"PK\x05\x06", true},
		{"PK\x01\x02", false},
		{"PK\x03", false},
		{"", false},
		{"SQLite format 3\x00", false},
		{"\x1f\x8b\x08\x00", false},
	}
	for _, tt := range tests {
		if got := Starts([]byte(tt.head)); got != tt.want {
			t.Errorf("Starts(%q) = %v, want %v", tt.head, got, tt.want)
		}
	}
}
