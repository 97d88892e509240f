/** Limits users can rely on (PRODUCT.md §2); Lambda's values unless noted. */
export const LIMITS = {
  /** Zipped bundle upload. */
  maxBundleBytes: 50 * 1024 * 1024,
  /** Unpacked code plus layers. */
  maxUnpackedBytes: 250 * 1024 * 1024,
  /** Sum of environment variable names and values. */
  maxEnvironmentBytes: 4 * 1024,
  /** Synchronous request and response payloads. */
  maxSyncPayloadBytes: 6 * 1024 * 1024,
  /** Asynchronous event payloads. */
  maxAsyncPayloadBytes: 1024 * 1024,
  /** Events in one InvokeAsyncBatch call (their payloads together stay under maxGrpcMessageBytes). */
  maxAsyncBatchEntries: 500,
  /** The log tail returned with a synchronous response. */
  logTailBytes: 4 * 1024,
  minMemoryMb: 128,
  maxMemoryMb: 10240,
  defaultMemoryMb: 128,
  minTimeoutSeconds: 1,
  maxTimeoutSeconds: 900,
  defaultTimeoutSeconds: 3,
  minEphemeralStorageMb: 512,
  maxEphemeralStorageMb: 10240,
  defaultEphemeralStorageMb: 512,
  maxLayers: 5,
  maxDescriptionLength: 256,
  /** gRPC message ceiling: a 6 MB payload plus headroom for the envelope. */
  maxGrpcMessageBytes: 8 * 1024 * 1024,
  /** Chunk size used by clients uploading code. */
  uploadChunkBytes: 256 * 1024,
  /**
   * Smallest max_payload Stratus needs from nats-server, whose default (1 MiB) cannot carry a 1 MB
   * async event plus its headers, nor an invocation record holding that event and its response.
   */
  minNatsMaxPayloadBytes: 8 * 1024 * 1024,
} as const;
