package notify

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// Channels, as the delivery log and the metrics name them.
const (
	ChannelWebhook = "webhook"
	ChannelEmail   = "email"
)

// Options configures a Notifier.
type Options struct {
	// App names the app in every event ("" leaves it out).
	App string
	// HTTPClient posts webhooks; one with a 30 s timeout when nil.
	HTTPClient *http.Client
	// SMTPTLS is the TLS configuration of SMTP connections (its
	// ServerName is set per connection); the system roots when nil.
	SMTPTLS *tls.Config
	// Backoff is the wait before each retry; DefaultBackoff when nil. A
	// delivery is tried len(Backoff)+1 times.
	Backoff []time.Duration
	// Superusers returns the addresses an Email with ToSuperusers goes to.
	Superusers func(ctx context.Context) ([]string, error)
	// Result, when set, learns each delivery's final result (metrics).
	Result func(channel string, ok bool)
	// Warn, when set, receives a line for each failed attempt: never a
	// secret, only the channel, the target's redacted form and the error.
	Warn func(msg string, args ...any)
	// QueueSize bounds the deliveries waiting; 256 when 0. Past it new
	// ones are dropped (and logged as such), never blocking the sender.
	QueueSize int
}

// Notifier delivers events in the background.
type Notifier struct {
	opts  Options
	queue chan delivery
	log   *deliveryLog

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// delivery is one event for one target.
type delivery struct {
	channel string
	target  string // redacted, for the log
	event   Event
	send    func(ctx context.Context) (Answer, error)
}

// Answer is what a receiver said to one attempt.
type Answer struct {
	// Status is the HTTP status (webhooks) or the SMTP reply code of the
	// end of the message (e-mail); 0 when no answer came.
	Status int `json:"status"`
	// Text is the start of the receiver's answer (at most 200 bytes).
	Text string `json:"text,omitempty"`
}

// New starts a Notifier with one delivery worker; Close stops it.
func New(opts Options) *Notifier {
	if opts.HTTPClient == nil {
		opts.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	if opts.Backoff == nil {
		opts.Backoff = DefaultBackoff
	}
	if opts.QueueSize <= 0 {
		opts.QueueSize = 256
	}
	ctx, cancel := context.WithCancel(context.Background())
	n := &Notifier{opts: opts, queue: make(chan delivery, opts.QueueSize), log: newDeliveryLog(100), ctx: ctx, cancel: cancel}
	n.wg.Go(n.work)
	return n
}

// Close stops the worker; deliveries still waiting or retrying are
// dropped (and logged as such).
func (n *Notifier) Close() {
	n.cancel()
	n.wg.Wait()
}

// Send queues ev for every target of cfg and returns at once.
func (n *Notifier) Send(cfg Config, ev Event) {
	ev = n.stamp(ev)
	for _, d := range n.deliveries(cfg, ev) {
		select {
		case n.queue <- d:
		default:
			n.log.add(Delivery{Time: time.Now().UTC(), Channel: d.channel, Target: d.target, Event: ev.Type,
				Error: "dropped: too many notifications waiting"})
			n.result(d.channel, false)
		}
	}
}

// Test sends ev to every target of cfg once, now, and returns each
// receiver's answer.
func (n *Notifier) Test(ctx context.Context, cfg Config) []Result {
	ev := n.stamp(Event{Type: EventTest})
	var out []Result
	for _, d := range n.deliveries(cfg, ev) {
		ans, err := d.send(ctx)
		r := Result{Channel: d.channel, Target: d.target, OK: err == nil, Answer: ans}
		if err != nil {
			r.Error = err.Error()
		}
		n.log.add(Delivery{Time: time.Now().UTC(), Channel: d.channel, Target: d.target, Event: ev.Type,
			Attempt: 1, OK: r.OK, Answer: ans, Error: r.Error})
		out = append(out, r)
	}
	return out
}

// Result is the outcome of a test delivery.
type Result struct {
	Channel string `json:"channel"`
	Target  string `json:"target"`
	OK      bool   `json:"ok"`
	Answer  Answer `json:"answer"`
	Error   string `json:"error,omitempty"`
}

// Log returns the latest deliveries, newest first.
func (n *Notifier) Log() []Delivery { return n.log.list() }

func (n *Notifier) stamp(ev Event) Event {
	if ev.Time.IsZero() {
		ev.Time = time.Now().UTC()
	}
	if ev.App == "" {
		ev.App = n.opts.App
	}
	return ev
}

// deliveries expands cfg into one delivery per webhook and one for the
// e-mail.
func (n *Notifier) deliveries(cfg Config, ev Event) []delivery {
	var out []delivery
	for _, wh := range cfg.Webhooks {
		id := deliveryID(ev) // the same on every attempt
		out = append(out, delivery{channel: ChannelWebhook, target: redactURL(wh.URL), event: ev,
			send: func(ctx context.Context) (Answer, error) { return n.postWebhook(ctx, wh, id, ev) }})
	}
	if cfg.Email != nil {
		em := *cfg.Email
		out = append(out, delivery{channel: ChannelEmail, target: fmt.Sprintf("smtp %s:%d", em.Host, em.Port), event: ev,
			send: func(ctx context.Context) (Answer, error) { return n.sendEmail(ctx, em, ev) }})
	}
	return out
}

// work delivers queued deliveries one at a time, each with its retries.
func (n *Notifier) work() {
	for {
		select {
		case <-n.ctx.Done():
			return
		case d := <-n.queue:
			n.deliver(d)
		}
	}
}

// deliver tries d until a receiver acknowledges it or the retries run
// out. An acknowledged delivery is never sent again.
func (n *Notifier) deliver(d delivery) {
	attempts := len(n.opts.Backoff) + 1
	for attempt := 1; ; attempt++ {
		ans, err := d.send(n.ctx)
		entry := Delivery{Time: time.Now().UTC(), Channel: d.channel, Target: d.target, Event: d.event.Type,
			Attempt: attempt, OK: err == nil, Answer: ans}
		if err != nil {
			entry.Error = err.Error()
		}
		n.log.add(entry)
		if err == nil {
			n.result(d.channel, true)
			return
		}
		if n.opts.Warn != nil {
			n.opts.Warn("notification not delivered", "channel", d.channel, "target", d.target,
				"event", d.event.Type, "attempt", attempt, "error", err)
		}
		if attempt >= attempts {
			n.result(d.channel, false)
			return
		}
		t := time.NewTimer(n.opts.Backoff[attempt-1])
		select {
		case <-n.ctx.Done():
			t.Stop()
			n.result(d.channel, false)
			return
		case <-t.C:
		}
	}
}

func (n *Notifier) result(channel string, ok bool) {
	if n.opts.Result != nil {
		n.opts.Result(channel, ok)
	}
}
