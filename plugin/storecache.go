package plugin

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/pocketbackup/pocketbackup/plugin/storage"
)

// DefaultMaxStores is how many opened stores a Service keeps by default.
// A host uses one storage URL at a time (two while its settings switch
// storage), so a few suffice; each open store may hold an HTTP client
// with its connections.
const DefaultMaxStores = 4

// storeCache keeps opened stores by URL, at most max of them: opening
// the least recently used one beyond that evicts it. An evicted store is
// closed at once when no operation uses it, else when the last one
// releases it; an operation never sees its store closed under it.
//
// mem:// stores are never evicted: their objects live only in the store,
// so closing one would lose them (they are for tests and demos).
type storeCache struct {
	open storage.Opener
	max  int
	// onCloseError receives the error of closing an evicted store.
	onCloseError func(url string, err error)

	mu      sync.Mutex
	entries map[string]*cachedStore
	lru     *list.List // of *cachedStore, most recently used first
}

type cachedStore struct {
	url     string
	store   storage.Store
	refs    int           // operations using it
	evicted bool          // out of the cache; closed when refs drops to 0
	elem    *list.Element // in lru; nil once evicted
}

func newStoreCache(open storage.Opener, max int, onCloseError func(string, error)) *storeCache {
	if max <= 0 {
		max = DefaultMaxStores
	}
	return &storeCache{open: open, max: max, onCloseError: onCloseError,
		entries: map[string]*cachedStore{}, lru: list.New()}
}

// acquire returns the store for url, opening it if needed, and a release
// func the caller must call once when done with it.
func (c *storeCache) acquire(ctx context.Context, url string) (storage.Store, func(), error) {
	if e := c.take(url); e != nil {
		return e.store, c.releaser(e), nil
	}
	// Opened without the lock: an open may be slow, and others may use
	// the stores already open meanwhile.
	st, err := c.open(ctx, url)
	if err != nil {
		return nil, nil, fmt.Errorf("open storage: %w", err)
	}
	c.mu.Lock()
	if e, ok := c.entries[url]; ok {
		// Another caller opened it first: use theirs.
		e.refs++
		c.lru.MoveToFront(e.elem)
		c.mu.Unlock()
		c.closeStore(url, st)
		return e.store, c.releaser(e), nil
	}
	e := &cachedStore{url: url, store: st, refs: 1}
	e.elem = c.lru.PushFront(e)
	c.entries[url] = e
	toClose := c.evictLocked()
	c.mu.Unlock()
	for _, v := range toClose {
		c.closeStore(v.url, v.store)
	}
	return st, c.releaser(e), nil
}

// take returns url's cached store with one more user, or nil.
func (c *storeCache) take(url string) *cachedStore {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[url]
	if !ok {
		return nil
	}
	e.refs++
	c.lru.MoveToFront(e.elem)
	return e
}

// evictLocked drops least recently used stores beyond max and returns
// those no operation uses, for the caller to close outside the lock.
func (c *storeCache) evictLocked() []*cachedStore {
	var toClose []*cachedStore
	for el := c.lru.Back(); el != nil && c.lru.Len() > c.max; {
		e := el.Value.(*cachedStore)
		prev := el.Prev()
		if !isMemURL(e.url) {
			c.lru.Remove(el)
			e.elem = nil
			delete(c.entries, e.url)
			e.evicted = true
			if e.refs == 0 {
				toClose = append(toClose, e)
			}
		}
		el = prev
	}
	return toClose
}

// releaser returns the release func of one acquire of e.
func (c *storeCache) releaser(e *cachedStore) func() {
	var once sync.Once
	return func() {
		once.Do(func() {
			c.mu.Lock()
			e.refs--
			closeNow := e.evicted && e.refs == 0
			c.mu.Unlock()
			if closeNow {
				c.closeStore(e.url, e.store)
			}
		})
	}
}

func (c *storeCache) closeStore(url string, st storage.Store) {
	if err := st.Close(); err != nil && c.onCloseError != nil {
		c.onCloseError(url, err)
	}
}

// close evicts every store: those in use are closed when released.
func (c *storeCache) close() error {
	c.mu.Lock()
	var toClose []*cachedStore
	for url, e := range c.entries {
		delete(c.entries, url)
		c.lru.Remove(e.elem)
		e.elem = nil
		e.evicted = true
		if e.refs == 0 {
			toClose = append(toClose, e)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, e := range toClose {
		errs = append(errs, e.store.Close())
	}
	return errors.Join(errs...)
}

func isMemURL(url string) bool { return strings.HasPrefix(url, "mem:") }
