// Package notify tells people that something happened to their backups:
// a JSON webhook signed with HMAC-SHA256, and e-mail over SMTP. Delivery
// runs in the background (Send never blocks the operation that reports),
// retries with backoff, and leaves a short log the API shows. Secrets (the
// webhook secret, the SMTP password) go only where they are used: never
// into the log, the delivery log or an error text.
package notify
