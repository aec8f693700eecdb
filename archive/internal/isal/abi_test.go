package isal

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// realHeader is where Debian's libisal-dev puts ISA-L's header.
const realHeader = "/usr/include/isa-l/igzip_lib.h"

// abiFields are the fields isal_abi.h declares, checked one by one.
var abiFields = map[[2]string][]string{
	{"pb_isal_zstream", "isal_zstream"}: {"next_in", "avail_in", "total_in", "next_out", "avail_out", "total_out",
		"hufftables", "level", "level_buf_size", "level_buf", "end_of_stream", "flush", "gzip_flag", "hist_bits",
		"internal_state"},
	{"pb_isal_zstate", "isal_zstate"}: {"total_in_start", "block_next", "block_end", "dist_mask", "hash_mask", "state",
		"bitbuf", "crc", "has_wrap_hdr", "has_eob_hdr", "has_eob", "has_hist", "has_level_buf_init", "count",
		"tmp_out_buff", "tmp_out_start", "tmp_out_end", "b_bytes_valid", "b_bytes_processed", "buffer", "head"},
	{"pb_inflate_state", "inflate_state"}: {"next_out", "avail_out", "total_out", "next_in", "read_in", "avail_in",
		"read_in_length", "lit_huff_code", "dist_huff_code", "block_state", "dict_length", "bfinal", "crc_flag", "crc",
		"hist_bits", "type0_block_len", "count", "dict_id", "write_overflow_lits", "write_overflow_len",
		"copy_overflow_length", "copy_overflow_distance", "wrapper_flag", "tmp_in_size", "tmp_out_valid",
		"tmp_out_processed", "tmp_in_buffer", "tmp_out_buffer"},
}

// abiConstants are the constants isal_abi.h declares, by their real name
// (isal_abi.h's is PB_ and the same).
var abiConstants = []string{"IGZIP_HIST_SIZE", "ISAL_LOOK_AHEAD", "IGZIP_LVL0_HASH_SIZE", "ISAL_DEF_MAX_HDR_SIZE",
	"ISAL_DECODE_LONG_BITS", "ISAL_DECODE_SHORT_BITS", "ISAL_HUFF_CODE_LARGE_LONG_ALIGNED",
	"ISAL_HUFF_CODE_SMALL_LONG_ALIGNED", "ISAL_DEF_LVL1_DEFAULT", "ISAL_DEF_LVL2_DEFAULT", "ISAL_DEF_LVL3_DEFAULT",
	"IGZIP_DEFLATE", "NO_FLUSH", "SYNC_FLUSH", "COMP_OK", "ZSTATE_END", "ISAL_DEFLATE", "ISAL_DECOMP_OK",
	"ISAL_END_INPUT", "ISAL_OUT_OVERFLOW", "ISAL_BLOCK_NEW_HDR", "ISAL_BLOCK_FINISH"}

// TestABIMatchesHeader compiles, with the C compiler cgo uses, static
// assertions that every struct size, alignment, field offset and size and
// every constant isal_abi.h declares equals ISA-L's own header's. It needs
// libisal-dev (make tools installs it; PB_REQUIRE_ISAL=1 makes its absence
// a failure): building the package does not.
func TestABIMatchesHeader(t *testing.T) {
	if _, err := os.Stat(realHeader); err != nil {
		if os.Getenv("PB_REQUIRE_ISAL") == "1" {
			t.Fatalf("%v and PB_REQUIRE_ISAL=1 (make tools installs libisal-dev)", err)
		}
		t.Skip("libisal-dev not on this machine (make tools installs it)")
	}
	cc := "cc"
	if out, err := exec.Command("go", "env", "CC").Output(); err == nil && strings.TrimSpace(string(out)) != "" {
		cc = strings.TrimSpace(string(out))
	}
	var b strings.Builder
	b.WriteString(`#include <stddef.h>
#include <isa-l/igzip_lib.h>
#include "isal_abi.h"
#define SAME(a, b) _Static_assert((a) == (b), #a " == " #b)
#define TYPE(p, r) SAME(sizeof(struct p), sizeof(struct r)); SAME(_Alignof(struct p), _Alignof(struct r))
#define FIELD(p, r, f) SAME(offsetof(struct p, f), offsetof(struct r, f)); \
	SAME(sizeof(((struct p *)0)->f), sizeof(((struct r *)0)->f))
`)
	for names, fields := range abiFields {
		fmt.Fprintf(&b, "TYPE(%s, %s);\n", names[0], names[1])
		for _, f := range fields {
			fmt.Fprintf(&b, "FIELD(%s, %s, %s);\n", names[0], names[1], f)
		}
	}
	b.WriteString("SAME(sizeof(enum isal_zstate_state), sizeof(uint32_t));\n")
	b.WriteString("SAME(sizeof(enum isal_block_state), sizeof(uint32_t));\n")
	for _, c := range abiConstants {
		fmt.Fprintf(&b, "SAME(PB_%s, %s);\n", c, c)
	}
	src := filepath.Join(t.TempDir(), "abi_check.c")
	if err := os.WriteFile(src, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(cc, "-std=c11", "-fsyntax-only", "-I", wd, src).CombinedOutput()
	if err != nil {
		t.Fatalf("isal_abi.h differs from %s (%v):\n%s", realHeader, err, out)
	}
}
