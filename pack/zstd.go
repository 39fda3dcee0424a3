package pack

import (
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

func zstdEncoder() *zstd.Encoder {
	encoderOnce.Do(func() {
		encoder, _ = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(1),
			zstd.WithLowerEncoderMem(true),
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
			zstd.WithEncoderConcurrency(1),
			zstd.WithZeroFrames(true))
	})
	return packEncoder
}
