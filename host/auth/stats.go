package auth

import "sync/atomic"

// loginStats counts what an operator watches for: logins refused for
// wrong credentials and logins refused by the rate limit (429). The host's
// metrics read them; they hold no identity or address.
type loginStats struct {
	failures atomic.Uint64
	limited  atomic.Uint64
}

// LoginStats returns the number of logins refused for wrong credentials
// and the number answered 429 by the login limit, since the Service was
// made.
func (s *Service) LoginStats() (failures, limited uint64) {
	return s.stats.failures.Load(), s.stats.limited.Load()
}
