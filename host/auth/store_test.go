package auth_test

import (
	"context"
	"strings"
	"sync"

	"github.com/pocketbackup/pocketbackup/host/auth"
)

// memStore is a real in-memory auth.Store: records by collection id, then
// by record id.
type memStore struct {
	mu   sync.Mutex
	recs map[string]map[string]auth.Record
	fail error // when set, every lookup fails with it
}

var _ auth.Store = (*memStore)(nil)

func newMemStore() *memStore { return &memStore{recs: map[string]map[string]auth.Record{}} }

func (m *memStore) FindByEmail(_ context.Context, collectionID, email string) (auth.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return auth.Record{}, m.fail
	}
	for _, r := range m.recs[collectionID] {
		if strings.EqualFold(r.Email, email) {
			return r, nil
		}
	}
	return auth.Record{}, auth.ErrNotFound
}

func (m *memStore) FindByID(_ context.Context, collectionID, id string) (auth.Record, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fail != nil {
		return auth.Record{}, m.fail
	}
	r, ok := m.recs[collectionID][id]
	if !ok {
		return auth.Record{}, auth.ErrNotFound
	}
	return r, nil
}

func (m *memStore) put(r auth.Record) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.recs[r.CollectionID] == nil {
		m.recs[r.CollectionID] = map[string]auth.Record{}
	}
	m.recs[r.CollectionID][r.ID] = r
}

func (m *memStore) remove(collectionID, id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.recs[collectionID], id)
}

func (m *memStore) setFail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fail = err
}
