// Command agedecrypt is the SDK scenarios' tool for reading a backup as
// stored when encryption at rest is on: it decrypts standard input to
// standard output with the identities of the keys file it is given, as an
// operator's offline command does (internal/atrest.DecryptFile).
//
//	agedecrypt KEYS_FILE < stored.zip > plain.zip
package main

import (
	"bufio"
	"fmt"
	"os"

	"github.com/pocketbackup/pocketbackup/internal/atrest"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: agedecrypt KEYS_FILE < in > out")
		os.Exit(2)
	}
	keys, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "agedecrypt:", err)
		os.Exit(1)
	}
	out := bufio.NewWriterSize(os.Stdout, 1<<20)
	if _, err := atrest.DecryptFile(out, bufio.NewReaderSize(os.Stdin, 1<<20), keys); err != nil {
		fmt.Fprintln(os.Stderr, "agedecrypt:", err)
		os.Exit(1)
	}
	if err := out.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, "agedecrypt:", err)
		os.Exit(1)
	}
}
