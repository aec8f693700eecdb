package notify

import (
	"net/url"
	"sync"
	"time"
)

// Delivery is one attempt to deliver an event, as the API shows it.
type Delivery struct {
	Time    time.Time `json:"time"`
	Channel string    `json:"channel"`
	Target  string    `json:"target"`
	Event   string    `json:"event"`
	Attempt int       `json:"attempt"`
	OK      bool      `json:"ok"`
	Answer  Answer    `json:"answer"`
	Error   string    `json:"error,omitempty"`
}

// deliveryLog keeps the latest attempts, in memory.
type deliveryLog struct {
	mu    sync.Mutex
	max   int
	items []Delivery // oldest first
}

func newDeliveryLog(max int) *deliveryLog { return &deliveryLog{max: max} }

func (l *deliveryLog) add(d Delivery) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.items = append(l.items, d)
	if len(l.items) > l.max {
		l.items = append(l.items[:0], l.items[len(l.items)-l.max:]...)
	}
}

// list returns the entries newest first.
func (l *deliveryLog) list() []Delivery {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]Delivery, len(l.items))
	for i, d := range l.items {
		out[len(l.items)-1-i] = d
	}
	return out
}

// redactURL is a webhook URL as logs show it: scheme and host only, for a
// webhook's path or query often is its secret (chat services put the
// token there).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	out := u.Scheme + "://" + u.Host
	if u.Path != "" && u.Path != "/" || u.RawQuery != "" {
		out += "/…"
	}
	return out
}
