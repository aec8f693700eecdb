package host

import (
	"errors"
	"os"
	"strconv"
	"strings"
)

// parentOf returns the parent PID of pid from /proc.
func parentOf(pid int) (int, error) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("malformed stat")
	}
	fields := strings.Fields(s[i+1:])
	if len(fields) < 2 {
		return 0, errors.New("malformed stat")
	}
	if fields[0] == "Z" {
		return 0, errors.New("zombie")
	}
	return strconv.Atoi(fields[1])
}
