package pack

import (
	"runtime"
	"sync"

	"github.com/klauspost/compress/zstd"
)

// The zstd encoder and decoder are safe for concurrent use through
// EncodeAll and DecodeAll and costly to build, so one of each serves the
// whole process.
var (
	encoderOnce sync.Once
	encoder     *zstd.Encoder
	decoderOnce sync.Once
	decoder     *zstd.Decoder
)

// The append path's encoder leaves literals as they are (no Huffman
// stage), a fifth faster for a twentieth more bytes; gc's packs compress
// tightly. No encoder adds zstd's content checksum: the frame's CRC-32C
// covers the stored bytes, and the payload must decompress to its
// recorded length (docs/format.md §4.1).
func zstdEncoder() *zstd.Encoder {
	encoderOnce.Do(func() {
		encoder, _ = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(max(2, runtime.GOMAXPROCS(0))),
			zstd.WithLowerEncoderMem(true),
			zstd.WithNoEntropyCompression(true),
			zstd.WithEncoderCRC(false),
			zstd.WithZeroFrames(true))
	})
	return encoder
}

func zstdDecoder() *zstd.Decoder {
	decoderOnce.Do(func() {
		decoder, _ = zstd.NewReader(nil,
			zstd.WithDecoderConcurrency(0),
			zstd.WithDecoderMaxMemory(MaxFramePayload))
	})
	return decoder
}

// packEncoder compresses the blocks gc writes: slower and tighter than the
// append path's, which must keep up with commits.
var (
	packEncoderOnce sync.Once
	packEncoder     *zstd.Encoder
)

func zstdPackEncoder() *zstd.Encoder {
	packEncoderOnce.Do(func() {
		packEncoder, _ = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedBetterCompression),
			zstd.WithEncoderConcurrency(max(2, runtime.GOMAXPROCS(0))),
			zstd.WithEncoderCRC(false),
			zstd.WithZeroFrames(true))
	})
	return packEncoder
}

// compressPart is the least payload each goroutine compresses: a large
// payload is cut into up to GOMAXPROCS parts compressed at once, each a
// zstd frame of its own. zstd frames back to back decode as the
// concatenation of their contents, so readers see one payload.
const compressPart = 64 << 10

// compress appends payload, zstd-compressed with enc, to dst.
func compress(enc *zstd.Encoder, dst, payload []byte) []byte {
	parts := min(runtime.GOMAXPROCS(0), len(payload)/compressPart)
	if parts < 2 {
		return enc.EncodeAll(payload, dst)
	}
	size := (len(payload) + parts - 1) / parts
	outs := make([][]byte, parts)
	var wg sync.WaitGroup
	for i := 1; i < parts; i++ {
		wg.Go(func() {
			part := payload[i*size : min((i+1)*size, len(payload))]
			outs[i] = enc.EncodeAll(part, make([]byte, 0, len(part)/2))
		})
	}
	dst = enc.EncodeAll(payload[:size], dst)
	wg.Wait()
	for _, o := range outs[1:] {
		dst = append(dst, o...)
	}
	return dst
}
