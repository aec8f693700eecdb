package auth

import (
	"crypto/rand"
	"fmt"

	"golang.org/x/crypto/bcrypt"
)

// HashPassword returns the bcrypt hash of password at DefaultBcryptCost.
func HashPassword(password string) (string, error) {
	return HashPasswordCost(password, DefaultBcryptCost)
}

// HashPasswordCost returns the bcrypt hash of password at cost (tests use
// bcrypt.MinCost). Passwords longer than 72 bytes are refused, as bcrypt
// would silently ignore the rest.
func HashPasswordCost(password string, cost int) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

const tokenKeyAlphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"

// NewTokenKey returns a random 50-character alphanumeric token key, like
// the ones PocketBase gives its records.
func NewTokenKey() string { return randomString(50) }

// randomString returns n characters drawn uniformly from tokenKeyAlphabet.
func randomString(n int) string {
	const limit = 256 - 256%len(tokenKeyAlphabet) // reject bytes that would bias the draw
	out := make([]byte, 0, n)
	buf := make([]byte, n+n/4)
	for len(out) < n {
		_, _ = rand.Read(buf) // never fails since Go 1.24
		for _, b := range buf {
			if int(b) < limit && len(out) < n {
				out = append(out, tokenKeyAlphabet[int(b)%len(tokenKeyAlphabet)])
			}
		}
	}
	return string(out)
}

// newDummyHash returns the hash of a random password at cost, compared
// against when a login names an unknown e-mail so that it costs as much as
// a wrong password.
func newDummyHash(cost int) []byte {
	h, err := bcrypt.GenerateFromPassword([]byte(randomString(32)), cost)
	if err != nil { // only on an invalid cost, which New refuses
		panic(fmt.Sprintf("auth: dummy hash: %v", err))
	}
	return h
}
