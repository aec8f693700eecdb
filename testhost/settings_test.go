package main

import (
	"testing"
)

func TestSettingsStoreRoundTrip(t *testing.T) {
	a := newTestApp(t)
	s := settingsStore{db: a.db}
	if got, err := s.LoadSettings(t.Context()); err != nil || got != nil {
		t.Fatalf("empty load = %q, %v", got, err)
	}
	for _, doc := range []string{`{"backups":{"cron":"0 0 * * *"}}`, `{"backups":{"cron":""}}`} {
		if err := s.SaveSettings(t.Context(), []byte(doc)); err != nil {
			t.Fatal(err)
		}
		if got, err := s.LoadSettings(t.Context()); err != nil || string(got) != doc {
			t.Fatalf("load = %q, %v; want %q", got, err, doc)
		}
	}
}
