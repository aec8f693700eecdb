package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// settingsParam is the _params id of the backups settings (the host's
// settings API document, JSON).
const settingsParam = "pocketbackup_settings"

// settingsStore keeps the host's settings in data.db, so a restore brings
// back the settings of the backup's time.
type settingsStore struct{ db *sql.DB }

// LoadSettings implements host.SettingsStore.
func (s settingsStore) LoadSettings(ctx context.Context) ([]byte, error) {
	var value sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT value FROM _params WHERE id = ?`, settingsParam).Scan(&value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("load settings: %w", err)
	}
	return []byte(value.String), nil
}

// SaveSettings implements host.SettingsStore.
func (s settingsStore) SaveSettings(ctx context.Context, data []byte) error {
	now := formatDate(time.Now())
	_, err := s.db.ExecContext(ctx,
		`INSERT INTO _params (id, value, created, updated) VALUES (?, ?, ?, ?)
		 ON CONFLICT(id) DO UPDATE SET value = excluded.value, updated = excluded.updated`,
		settingsParam, string(data), now, now)
	if err != nil {
		return fmt.Errorf("save settings: %w", err)
	}
	return nil
}
