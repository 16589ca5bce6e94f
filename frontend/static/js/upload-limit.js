// The upload size limit, checked before a byte is sent (the server checks it again). The limit is
// the server's UPLOAD_MAX_BYTES, rendered into base.html as <meta name="upload-max-bytes">; the
// message is the server's own (webapp/photos/services.py).
const DEFAULT_LIMIT = 200 * 2 ** 20;

export function uploadLimit() {
  const value = Number(document.querySelector("meta[name=upload-max-bytes]")?.content);
  return Number.isFinite(value) && value > 0 ? value : DEFAULT_LIMIT;
}

// null when the file may be sent, else the sentence to show.
export function tooLarge(file) {
  const limit = uploadLimit();
  if (!file || file.size <= limit) return null;
  return `The file is ${(file.size / 2 ** 20).toFixed(1)} MB; the limit is ${(limit / 2 ** 20).toFixed(0)} MB.`;
}
