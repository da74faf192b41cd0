/**
 * Refuses an MQTT packet larger than a bound before it is buffered. aedes' parser
 * (mqtt-packet) collects a whole packet in memory whatever its announced length (up to
 * 256 MiB); this guard reads only each fixed header's Remaining Length and skips bodies, so
 * it costs a few comparisons per packet.
 */
export class FrameGuard {
  readonly #maxPacket: number;
  /** Body bytes of the current packet still to skip. */
  #skip = 0;
  /** 0: expecting a packet type byte; otherwise the count of length bytes read so far + 1. */
  #header = 0;
  #length = 0;

  constructor(maxPacket: number) {
    this.#maxPacket = maxPacket;
  }

  /**
   * Why the connection must be refused at this chunk: a packet announcing more than the bound,
   * or a Remaining Length longer than its four bytes; undefined while every packet is fine.
   */
  refusal(chunk: Uint8Array): 'packet_too_large' | 'malformed_packet' | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, chunk.length - i);
        this.#skip -= n;
        i += n;
        continue;
      }
      const byte = chunk[i++]!;
      if (this.#header === 0) {
        this.#header = 1;
        this.#length = 0;
        continue;
      }
      this.#length += (byte & 0x7f) * 128 ** (this.#header - 1);
      if ((byte & 0x80) !== 0) {
        if (++this.#header > 4) return 'malformed_packet';
        continue;
      }
      if (this.#length > this.#maxPacket) return 'packet_too_large';
      this.#skip = this.#length;
      this.#header = 0;
    }
    return undefined;
  }
}
