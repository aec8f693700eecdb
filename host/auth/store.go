package auth

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound is what a Store returns when no record matches.
var ErrNotFound = errors.New("auth record not found")

// Record is an auth record as the service needs it.
type Record struct {
	ID             string
	CollectionID   string
	CollectionName string
	Email          string
	PasswordHash   string // bcrypt
	TokenKey       string // per-record secret; changing the password changes it
	Created        time.Time
	Updated        time.Time
}

// IsSuperuser reports whether r belongs to the _superusers collection.
func (r Record) IsSuperuser() bool { return r.CollectionName == SuperusersName }

// Store reads auth records; the app implements it over its database.
type Store interface {
	// FindByEmail returns the record of collectionID whose e-mail equals
	// email, compared case-insensitively, or ErrNotFound.
	FindByEmail(ctx context.Context, collectionID, email string) (Record, error)
	// FindByID returns the record id of collectionID, or ErrNotFound.
	FindByID(ctx context.Context, collectionID, id string) (Record, error)
}

// dateLayout is PocketBase's JSON date format.
const dateLayout = "2006-01-02 15:04:05.000Z"

// recordJSON is the public view of a Record: never its hash or token key.
type recordJSON struct {
	ID              string `json:"id"`
	CollectionID    string `json:"collectionId"`
	CollectionName  string `json:"collectionName"`
	Email           string `json:"email"`
	EmailVisibility bool   `json:"emailVisibility"`
	Verified        bool   `json:"verified"`
	Created         string `json:"created"`
	Updated         string `json:"updated"`
}

func publicRecord(r Record) recordJSON {
	return recordJSON{
		ID:              r.ID,
		CollectionID:    r.CollectionID,
		CollectionName:  r.CollectionName,
		Email:           r.Email,
		EmailVisibility: false,
		Verified:        true,
		Created:         formatDate(r.Created),
		Updated:         formatDate(r.Updated),
	}
}

// formatDate formats t as PocketBase does; the zero time is "".
func formatDate(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(dateLayout)
}

type recordKey struct{}

// ContextWithRecord returns ctx carrying the authenticated record rec.
func ContextWithRecord(ctx context.Context, rec Record) context.Context {
	return context.WithValue(ctx, recordKey{}, rec)
}

// RecordFromContext returns the record RequireSuperuser authenticated.
func RecordFromContext(ctx context.Context) (Record, bool) {
	rec, ok := ctx.Value(recordKey{}).(Record)
	return rec, ok
}
