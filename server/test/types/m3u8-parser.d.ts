/** The part of video.js's m3u8-parser (no typings published) the tests use. */
declare module 'm3u8-parser' {
  export class Parser {
    push(chunk: string): void;
    end(): void;
    manifest: { segments?: { uri: string; duration: number }[]; targetDuration?: number; partTargetDuration?: number };
  }
}
