// Reading a QR code with the device's camera: frames from getUserMedia, decoded by jsQR.

import jsQR from 'jsqr';

export interface Scanner {
  stop: () => void;
}

/** Frames are decoded at most this wide: enough for a phone screen's code, cheap on a tablet. */
const MAX_WIDTH = 800;
const INTERVAL_MS = 120;

/**
 * Shows the camera in `video` and calls `found` with the first QR code's text, then stops.
 * Rejects when there is no camera or the user refuses it.
 */
export async function startScanner(video: HTMLVideoElement, found: (text: string) => void): Promise<Scanner> {
  const stream = await navigator.mediaDevices.getUserMedia({
    video: { facingMode: { ideal: 'environment' } },
    audio: false,
  });
  video.srcObject = stream;
  video.muted = true;
  video.setAttribute('playsinline', '');
  await video.play();
  const canvas = document.createElement('canvas');
  const context = canvas.getContext('2d', { willReadFrequently: true });
  let timer: number | undefined;
  let stopped = false;
  const stop = () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    stream.getTracks().forEach((track) => track.stop());
    video.srcObject = null;
  };
  const look = () => {
    if (stopped || !context) return;
    if (video.readyState >= video.HAVE_CURRENT_DATA && video.videoWidth > 0) {
      const scale = Math.min(1, MAX_WIDTH / video.videoWidth);
      canvas.width = Math.round(video.videoWidth * scale);
      canvas.height = Math.round(video.videoHeight * scale);
      context.drawImage(video, 0, 0, canvas.width, canvas.height);
      const frame = context.getImageData(0, 0, canvas.width, canvas.height);
      const code = jsQR(frame.data, frame.width, frame.height, { inversionAttempts: 'attemptBoth' });
      if (code?.data) {
        stop();
        found(code.data);
        return;
      }
    }
    timer = window.setTimeout(look, INTERVAL_MS);
  };
  look();
  return { stop };
}
