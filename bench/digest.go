package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pocketbackup/pocketbackup/archive"
	"github.com/pocketbackup/pocketbackup/host"
	"github.com/pocketbackup/pocketbackup/internal/atrest"
	"github.com/pocketbackup/pocketbackup/plugin"
	"github.com/pocketbackup/pocketbackup/plugin/storage"
)

// digestRuns is how many pairs of creates, with and without the digest,
// the digest's cost is the median of.
const digestRuns = 3

// measureDigestCost measures what the backup's SHA-256 costs a create. In
// this process, the data set goes through the plugin's create pipeline
// (plugin.WriteBackup: archive, encryption when the run encrypts, the
// writes into a file:// store, then the commit) with the digest and
// without it: the only difference is the SHA-256 stage (and recording its
// sum). The pairs alternate which side runs first, so a drift of the
// machine's load does not favour one side; the row shows the median of
// the pairs' ratios.
func (b *bench) measureDigestCost(ctx context.Context) (err error) {
	var keys *atrest.Keys
	if b.keyFile != "" {
		text, err := os.ReadFile(b.keyFile)
		if err != nil {
			return fmt.Errorf("digest cost: %w", err)
		}
		if keys, err = atrest.ParseKeys(text); err != nil {
			return fmt.Errorf("digest cost: %w", err)
		}
	}
	st, err := storage.Open(ctx, "file://"+filepath.Join(b.root, "digest-cost"))
	if err != nil {
		return fmt.Errorf("digest cost: %w", err)
	}
	defer func() { err = errors.Join(err, st.Close()) }()
	src := archive.Source{Root: b.dataDir, Exclude: host.DefaultExcludes}

	var ratios []float64
	var pairs []string
	lw := b.startLoad("digest cost")
	defer b.stopLoad(lw)
	for i := range digestRuns {
		var with, without, withCPU, withoutCPU float64
		for _, digest := range []bool{i%2 == 0, i%2 != 0} {
			side := map[bool]string{true: "with", false: "without"}[digest]
			b.progress("digest cost %d/%d: create in process %s the SHA-256", i+1, digestRuns, side)
			cpu := cpuSeconds(os.Getpid())
			secs, err := createInProcess(ctx, st, fmt.Sprintf("digest-%d-%s.zip", i, side), digest, keys, src)
			if err != nil {
				return fmt.Errorf("digest cost: create %s the digest: %w", side, err)
			}
			cpu = cpuSeconds(os.Getpid()) - cpu
			if digest {
				with, withCPU = secs, cpu
			} else {
				without, withoutCPU = secs, cpu
			}
		}
		ratios = append(ratios, with/without)
		pairs = append(pairs, fmt.Sprintf("%.2f / %.2f s (%+.1f%%; CPU %.2f / %.2f s)", with, without, 100*(with/without-1), withCPU, withoutCPU))
	}
	slices.Sort(ratios)
	cost := 100 * (ratios[len(ratios)/2] - 1)
	b.rep.add(atMostRow("create.digest.cost", "Create: cost of the SHA-256 digest (with vs without, same pipeline)", cost, "%", 3))
	b.rep.note("create digest cost: %d pairs of in-process creates of the data set (plugin.WriteBackup into a file:// store and its commit, deflate %s%s), with / without the SHA-256: %s; the median ratio shown",
		digestRuns, archive.DeflateEngine(), map[bool]string{true: ", encrypted", false: ""}[keys != nil], strings.Join(pairs, ", "))
	return nil
}

// createInProcess creates key in st from src the way the plugin's Create
// does, with the SHA-256 or without it, and deletes it again; it returns
// the seconds from the writer's opening to the commit.
func createInProcess(ctx context.Context, st storage.Store, key string, withDigest bool, keys *atrest.Keys, src archive.Source) (float64, error) {
	settle()
	var digest hash.Hash
	if withDigest {
		digest = sha256.New()
	}
	start := time.Now()
	w, err := st.NewWriter(ctx, key)
	if err != nil {
		return 0, err
	}
	_, _, err = plugin.WriteBackup(ctx, w, digest, keys, src, archive.WriteOptions{})
	if err == nil && withDigest {
		if dw, ok := w.(storage.DigestWriter); ok {
			err = dw.SetSHA256(fmt.Sprintf("%x", digest.Sum(nil)))
		}
	}
	if err != nil {
		return 0, errors.Join(err, w.Abort())
	}
	if err := w.Commit(); err != nil {
		return 0, err
	}
	secs := time.Since(start).Seconds()
	return secs, st.Delete(ctx, key)
}
