package archive

// crc32IEEEPoly is the reversed IEEE polynomial of hash/crc32.
const crc32IEEEPoly = 0xedb88320

// crc32PowTable[k] is x^(2^k) modulo the IEEE polynomial, for
// crc32Combine.
var crc32PowTable = func() (t [32]uint32) {
	p := uint32(1) << 30 // x^1
	for k := range t {
		t[k] = p
		p = crc32MulMod(p, p)
	}
	return t
}()

// crc32MulMod returns a*b modulo the IEEE polynomial, in the bit-reversed
// representation of hash/crc32 (as zlib's multmodp).
func crc32MulMod(a, b uint32) uint32 {
	var p uint32
	for m := uint32(1) << 31; m != 0; m >>= 1 {
		if a&m != 0 {
			p ^= b
			if a&(m-1) == 0 {
				break
			}
		}
		if b&1 != 0 {
			b = b>>1 ^ crc32IEEEPoly
		} else {
			b >>= 1
		}
	}
	return p
}

// crc32Combine returns the IEEE CRC-32 of the concatenation of two byte
// strings from crc1, the CRC-32 of the first, and crc2 and len2, the CRC-32
// and length of the second (as zlib's crc32_combine). It lets chunks of a
// file be checksummed on different cores.
func crc32Combine(crc1, crc2 uint32, len2 int64) uint32 {
	// crc1 * x^(8*len2): multiply by x^(2^k) for each bit k of 8*len2.
	p := uint32(1) << 31 // x^0
	for k, n := 3, uint64(len2); n != 0; k, n = k+1, n>>1 {
		if n&1 != 0 {
			p = crc32MulMod(crc32PowTable[k&31], p)
		}
	}
	return crc32MulMod(p, crc1) ^ crc2
}
