package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/pocketbackup/pocketbackup/host/cron"
	"github.com/pocketbackup/pocketbackup/host/jsonapi"
	"github.com/pocketbackup/pocketbackup/host/retention"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/shared"
)

// SettingsStore persists the backups settings; the app keeps them in its
// data.db, so a restore brings back the settings of its time.
type SettingsStore interface {
	// LoadSettings returns what SaveSettings last stored, or nil.
	LoadSettings(ctx context.Context) ([]byte, error)
	SaveSettings(ctx context.Context, data []byte) error
}

// Settings is the settings API's document: only the backups section.
type Settings struct {
	Backups BackupsSettings `json:"backups"`
}

// BackupsSettings is PocketBase's backups section.
type BackupsSettings struct {
	Cron        string     `json:"cron"`
	CronMaxKeep int        `json:"cronMaxKeep"`
	S3          S3Settings `json:"s3"`
	// Retention (beyond PocketBase), when it turns any rule on, replaces
	// cronMaxKeep's rule for the scheduled backups: restic's --keep-*
	// rules, in UTC. null or all zero: cronMaxKeep applies.
	Retention *retention.Policy `json:"retention,omitempty"`
	// PreRestoreBackup (beyond PocketBase) makes every restore first back
	// up the current data as @pre_restore_<UTC time>.zip, unless its
	// request says {"preRestoreBackup": false}.
	PreRestoreBackup bool `json:"preRestoreBackup,omitempty"`
	// Verify, when set, are the backup drills (beyond PocketBase).
	Verify *VerifySettings `json:"verify,omitempty"`
	// PreRestoreMaxKeep is how many @pre_restore_ backups are kept
	// (newest first, pinned ones aside); 0 keeps them all, nil is
	// defaultPreRestoreKeep. The additions are left out of the document
	// while unset, so PocketBase clients see PocketBase's settings.
	PreRestoreMaxKeep *int `json:"preRestoreMaxKeep,omitempty"`
	// Notify is where alerts go (an addition to PocketBase's section).
	// Left out of the JSON while nothing is set, so that the section reads
	// exactly as PocketBase's until alerts are configured.
	Notify NotifySettings `json:"notify,omitzero"`
}

// defaultPreRestoreKeep is how many pre-restore backups are kept unless
// set.
const defaultPreRestoreKeep = 3

// preRestoreKeep is PreRestoreMaxKeep or its default.
func (b BackupsSettings) preRestoreKeep() int {
	if b.PreRestoreMaxKeep == nil {
		return defaultPreRestoreKeep
	}
	return *b.PreRestoreMaxKeep
}

// S3Settings names an S3-compatible bucket for backups.
type S3Settings struct {
	Enabled        bool   `json:"enabled"`
	Bucket         string `json:"bucket"`
	Region         string `json:"region"`
	Endpoint       string `json:"endpoint"`
	AccessKey      string `json:"accessKey"`
	Secret         string `json:"secret"`
	ForcePathStyle bool   `json:"forcePathStyle"`
}

// defaultSettings are PocketBase's defaults: no schedule, keep 3; and
// ours: no pre-restore backup unless asked, 3 of them kept.
func defaultSettings() Settings {
	return Settings{Backups: BackupsSettings{CronMaxKeep: 3}}
}

// public returns s as clients may see it: the secret never leaves.
func (s Settings) public() Settings {
	s.Backups.S3.Secret = ""
	s.Backups.Notify = s.Backups.Notify.public()
	return s
}

// applyPatch returns s with the JSON patch body applied: fields present
// replace, fields absent stay. An empty secret keeps the stored one.
func (s Settings) applyPatch(body []byte) (Settings, error) {
	next := s
	if s.Backups.Retention != nil {
		// Unmarshal writes through pointers: s must not change.
		r := *s.Backups.Retention
		next.Backups.Retention = &r
	}
	if s.Backups.Verify != nil {
		// Its own copy: the patch must not write into s's.
		v := *s.Backups.Verify
		next.Backups.Verify = &v
	}
	if s.Backups.PreRestoreMaxKeep != nil {
		n := *s.Backups.PreRestoreMaxKeep
		next.Backups.PreRestoreMaxKeep = &n
	}
	next.Backups.Notify = s.Backups.Notify.clone()
	if err := json.Unmarshal(body, &next); err != nil {
		return s, jsonapi.BadRequest("")
	}
	if next.Backups.S3.Secret == "" {
		next.Backups.S3.Secret = s.Backups.S3.Secret
	}
	next.Backups.Notify.keepSecrets(s.Backups.Notify)
	next.Backups.Notify.normalize()
	next.Backups.Cron = strings.TrimSpace(next.Backups.Cron)
	if next.Backups.Verify != nil {
		next.Backups.Verify.Cron = strings.TrimSpace(next.Backups.Verify.Cron)
	}
	return next, nil
}

// patched returns s with the JSON patch body applied and validated: what
// PATCH /api/settings saves, and what POST /api/settings/test/s3 tests.
func (s Settings) patched(body []byte) (Settings, error) {
	next, err := s.applyPatch(body)
	if err != nil {
		return s, err
	}
	if err := next.validate(); err != nil {
		return s, err
	}
	return next, nil
}

// validate returns the contract's 400 with every invalid field under
// data.backups, or nil.
func (s Settings) validate() error {
	fields := map[string]any{}
	b := s.Backups
	if b.Cron != "" {
		if _, err := cron.Parse(b.Cron); err != nil {
			fields["cron"] = jsonapi.FieldError{Code: "validation_invalid_cron", Message: "Invalid cron expression: " + cronReason(err) + "."}
		}
		if b.CronMaxKeep < 1 {
			fields["cronMaxKeep"] = jsonapi.FieldError{Code: "validation_min_greater_equal_than_required", Message: "Must be no less than 1."}
		}
	}
	if b.CronMaxKeep < 0 {
		fields["cronMaxKeep"] = jsonapi.FieldError{Code: "validation_min_greater_equal_than_required", Message: "Must be no less than 0."}
	}
	if b.PreRestoreMaxKeep != nil && *b.PreRestoreMaxKeep < 0 {
		fields["preRestoreMaxKeep"] = jsonapi.FieldError{Code: "validation_min_greater_equal_than_required", Message: "Must be no less than 0."}
	}
	if r := validateRetention(b.Retention); len(r) > 0 {
		fields["retention"] = r
	}
	if v := b.Verify.validate(); v != nil {
		fields["verify"] = v
	}
	s3 := validateS3(b.S3)
	if len(s3) > 0 {
		fields["s3"] = s3
	}
	if n := b.Notify.validate(); len(n) > 0 {
		fields["notify"] = n
	}
	if len(fields) == 0 {
		return nil
	}
	e := jsonapi.BadRequest(jsonapi.MsgValidation)
	e.Data["backups"] = fields
	return e
}

// validateRetention returns the field errors of p: counts are never
// negative.
func validateRetention(p *retention.Policy) map[string]any {
	fields := map[string]any{}
	if p == nil {
		return fields
	}
	for name, n := range map[string]int{"keepLast": p.Last, "keepDaily": p.Daily, "keepWeekly": p.Weekly, "keepMonthly": p.Monthly} {
		if n < 0 {
			fields[name] = jsonapi.FieldError{Code: "validation_min_greater_equal_than_required", Message: "Must be no less than 0."}
		}
	}
	return fields
}

// cronReason is a parse error's reason without the expression repeated.
func cronReason(err error) string {
	var pe *cron.ParseError
	if errors.As(err, &pe) {
		if pe.Field != "" {
			return fmt.Sprintf("%s %q: %s", pe.Field, pe.Value, pe.Reason)
		}
		return pe.Reason
	}
	return "cannot be parsed"
}

// s3URL is the storage URL the S3 settings name.
func (s Settings) s3URL(prefix string) string {
	b := s.Backups.S3
	return shared.S3URL(shared.S3Config{
		Bucket: b.Bucket, Region: b.Region, Endpoint: b.Endpoint,
		AccessKey: b.AccessKey, Secret: b.Secret, ForcePathStyle: b.ForcePathStyle, Prefix: prefix,
	})
}

// loadSettings reads the persisted settings, defaults when none. A sealed
// S3 secret is opened with keys; one that cannot be (no key, another
// key) is left empty, with an error saying so beside the settings.
func loadSettings(ctx context.Context, store SettingsStore, keys *atrest.Keys) (Settings, error) {
	s := defaultSettings()
	if store == nil {
		return s, nil
	}
	data, err := store.LoadSettings(ctx)
	if err != nil || len(data) == 0 {
		return s, err
	}
	if err := json.Unmarshal(data, &s); err != nil {
		return defaultSettings(), fmt.Errorf("parse settings: %w", err)
	}
	secret, err := keys.OpenSecret(s.Backups.S3.Secret)
	s.Backups.S3.Secret = secret
	if err != nil {
		return s, fmt.Errorf("S3 secret (set it again): %w", err)
	}
	return s, nil
}

// marshalSettings is what is saved of s: the S3 secret sealed with keys
// when there are keys, so a backup of the app's data.db does not carry it
// in clear.
func marshalSettings(s Settings, keys *atrest.Keys) ([]byte, error) {
	sealed, err := keys.SealSecret(s.Backups.S3.Secret)
	if err != nil {
		return nil, fmt.Errorf("seal S3 secret: %w", err)
	}
	s.Backups.S3.Secret = sealed
	return json.Marshal(s)
}
