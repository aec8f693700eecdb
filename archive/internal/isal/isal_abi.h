// isal_abi.h declares the part of ISA-L's igzip ABI (libisal.so.2, ISA-L
// 2.x: igzip_lib.h) that this package uses: the layouts of the two structs
// it allocates and passes to the library, and the constants it sets or
// reads. Names carry a pb_ prefix so that the test can include this file
// next to the real header and check every size, offset and value against
// it (TestABIMatchesHeader, which needs libisal-dev). Fields the package
// does not touch are still declared one by one, as the real header does,
// so that the layout follows the same C rules.

#ifndef PB_ISAL_ABI_H
#define PB_ISAL_ABI_H

#include <stdint.h>

// Sizes the struct layouts depend on.
#define PB_IGZIP_HIST_SIZE (32 * 1024)
#define PB_ISAL_LOOK_AHEAD 288
#define PB_IGZIP_LVL0_HASH_SIZE (8 * 1024)
#define PB_ISAL_DEF_MAX_HDR_SIZE 328
#define PB_ISAL_DECODE_LONG_BITS 12
#define PB_ISAL_DECODE_SHORT_BITS 10
#define PB_ISAL_HUFF_CODE_LARGE_LONG_ALIGNED 1264
#define PB_ISAL_HUFF_CODE_SMALL_LONG_ALIGNED 80

// Level buffer sizes (ISA-L's "large" defaults, ISAL_DEF_LVLn_DEFAULT).
#define PB_ISAL_DEF_LVL1_DEFAULT 282624
#define PB_ISAL_DEF_LVL2_DEFAULT 331776
#define PB_ISAL_DEF_LVL3_DEFAULT 348160

// Values set or compared.
#define PB_IGZIP_DEFLATE 0   // isal_zstream.gzip_flag: raw deflate
#define PB_NO_FLUSH 0        // isal_zstream.flush
#define PB_SYNC_FLUSH 1      // isal_zstream.flush
#define PB_COMP_OK 0         // isal_deflate's success
#define PB_ZSTATE_END 11     // enum isal_zstate_state: stream ended
#define PB_ISAL_DEFLATE 0    // inflate_state.crc_flag: raw deflate
#define PB_ISAL_DECOMP_OK 0  // isal_inflate's results
#define PB_ISAL_END_INPUT 1
#define PB_ISAL_OUT_OVERFLOW 2
#define PB_ISAL_BLOCK_NEW_HDR 0 // enum isal_block_state
#define PB_ISAL_BLOCK_FINISH 5

struct pb_bitbuf2 {
	uint64_t m_bits;
	uint32_t m_bit_count;
	uint8_t *m_out_buf;
	uint8_t *m_out_end;
	uint8_t *m_out_start;
};

struct pb_isal_zstate {
	uint32_t total_in_start;
	uint32_t block_next;
	uint32_t block_end;
	uint32_t dist_mask;
	uint32_t hash_mask;
	uint32_t state; // enum isal_zstate_state, an int-sized enum
	struct pb_bitbuf2 bitbuf;
	uint32_t crc;
	uint8_t has_wrap_hdr;
	uint8_t has_eob_hdr;
	uint8_t has_eob;
	uint8_t has_hist;
	uint16_t has_level_buf_init;
	uint32_t count;
	uint8_t tmp_out_buff[16];
	uint32_t tmp_out_start;
	uint32_t tmp_out_end;
	uint32_t b_bytes_valid;
	uint32_t b_bytes_processed;
	uint8_t buffer[2 * PB_IGZIP_HIST_SIZE + PB_ISAL_LOOK_AHEAD];
	uint16_t head[PB_IGZIP_LVL0_HASH_SIZE];
};

// struct isal_zstream
struct pb_isal_zstream {
	uint8_t *next_in;
	uint32_t avail_in;
	uint32_t total_in;
	uint8_t *next_out;
	uint32_t avail_out;
	uint32_t total_out;
	void *hufftables; // struct isal_hufftables *: NULL for the default tables
	uint32_t level;
	uint32_t level_buf_size;
	uint8_t *level_buf;
	uint16_t end_of_stream;
	uint16_t flush;
	uint16_t gzip_flag;
	uint16_t hist_bits;
	struct pb_isal_zstate internal_state;
};

struct pb_inflate_huff_code_large {
	uint32_t short_code_lookup[1 << PB_ISAL_DECODE_LONG_BITS];
	uint16_t long_code_lookup[PB_ISAL_HUFF_CODE_LARGE_LONG_ALIGNED];
};

struct pb_inflate_huff_code_small {
	uint16_t short_code_lookup[1 << PB_ISAL_DECODE_SHORT_BITS];
	uint16_t long_code_lookup[PB_ISAL_HUFF_CODE_SMALL_LONG_ALIGNED];
};

// struct inflate_state
struct pb_inflate_state {
	uint8_t *next_out;
	uint32_t avail_out;
	uint32_t total_out;
	uint8_t *next_in;
	uint64_t read_in;
	uint32_t avail_in;
	int32_t read_in_length;
	struct pb_inflate_huff_code_large lit_huff_code;
	struct pb_inflate_huff_code_small dist_huff_code;
	uint32_t block_state; // enum isal_block_state, an int-sized enum
	uint32_t dict_length;
	uint32_t bfinal;
	uint32_t crc_flag;
	uint32_t crc;
	uint32_t hist_bits;
	union {
		int32_t type0_block_len;
		int32_t count;
		uint32_t dict_id;
	};
	int32_t write_overflow_lits;
	int32_t write_overflow_len;
	int32_t copy_overflow_length;
	int32_t copy_overflow_distance;
	int16_t wrapper_flag;
	int16_t tmp_in_size;
	int32_t tmp_out_valid;
	int32_t tmp_out_processed;
	uint8_t tmp_in_buffer[PB_ISAL_DEF_MAX_HDR_SIZE];
	uint8_t tmp_out_buffer[2 * PB_IGZIP_HIST_SIZE + PB_ISAL_LOOK_AHEAD];
};

#endif
