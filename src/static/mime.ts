// Content types by file extension for static files: a fixed table of the types web servers are
// asked for (the common subset of nginx's mime.types and the IANA registry), so the answer never
// depends on the host's /etc/mime.types. Text types carry `charset=utf-8`.

const UTF8 = '; charset=utf-8';

const TYPES: Readonly<Record<string, string>> = {
  // text and documents
  html: `text/html${UTF8}`, htm: `text/html${UTF8}`, css: `text/css${UTF8}`, txt: `text/plain${UTF8}`,
  csv: `text/csv${UTF8}`, md: `text/markdown${UTF8}`, xml: `application/xml${UTF8}`, xhtml: `application/xhtml+xml${UTF8}`,
  ics: `text/calendar${UTF8}`, vtt: `text/vtt${UTF8}`, rtf: 'application/rtf', pdf: 'application/pdf',
  // scripts and data
  js: `text/javascript${UTF8}`, mjs: `text/javascript${UTF8}`, cjs: `text/javascript${UTF8}`,
  json: `application/json${UTF8}`, map: `application/json${UTF8}`, jsonld: `application/ld+json${UTF8}`,
  webmanifest: `application/manifest+json${UTF8}`, wasm: 'application/wasm', yaml: `application/yaml${UTF8}`,
  yml: `application/yaml${UTF8}`, rss: `application/rss+xml${UTF8}`, atom: `application/atom+xml${UTF8}`,
  // images
  png: 'image/png', jpg: 'image/jpeg', jpeg: 'image/jpeg', gif: 'image/gif', webp: 'image/webp', avif: 'image/avif',
  svg: `image/svg+xml${UTF8}`, ico: 'image/x-icon', bmp: 'image/bmp', tif: 'image/tiff', tiff: 'image/tiff',
  apng: 'image/apng', jxl: 'image/jxl', heic: 'image/heic',
  // fonts
  woff: 'font/woff', woff2: 'font/woff2', ttf: 'font/ttf', otf: 'font/otf', eot: 'application/vnd.ms-fontobject',
  // audio and video
  mp3: 'audio/mpeg', ogg: 'audio/ogg', oga: 'audio/ogg', wav: 'audio/wav', flac: 'audio/flac', aac: 'audio/aac',
  m4a: 'audio/mp4', opus: 'audio/opus', weba: 'audio/webm', mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm',
  ogv: 'video/ogg', mov: 'video/quicktime', mkv: 'video/x-matroska', avi: 'video/x-msvideo', m3u8: 'application/vnd.apple.mpegurl',
  ts: 'video/mp2t', mpd: `application/dash+xml${UTF8}`,
  // archives and binaries
  zip: 'application/zip', gz: 'application/gzip', tgz: 'application/gzip', tar: 'application/x-tar', br: 'application/x-brotli',
  bz2: 'application/x-bzip2', xz: 'application/x-xz', '7z': 'application/x-7z-compressed', zst: 'application/zstd',
  bin: 'application/octet-stream', exe: 'application/octet-stream', dmg: 'application/octet-stream',
  iso: 'application/octet-stream', deb: 'application/vnd.debian.binary-package', rpm: 'application/x-rpm',
  apk: 'application/vnd.android.package-archive', jar: 'application/java-archive',
  // office
  doc: 'application/msword', docx: 'application/vnd.openxmlformats-officedocument.wordprocessingml.document',
  xls: 'application/vnd.ms-excel', xlsx: 'application/vnd.openxmlformats-officedocument.spreadsheetml.sheet',
  ppt: 'application/vnd.ms-powerpoint', pptx: 'application/vnd.openxmlformats-officedocument.presentationml.presentation',
  odt: 'application/vnd.oasis.opendocument.text', ods: 'application/vnd.oasis.opendocument.spreadsheet', epub: 'application/epub+zip',
};

export const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

/** The Content-Type for a file name (by its last extension, case-insensitive). */
export function contentTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  if (dot < 0 || dot === fileName.length - 1) return DEFAULT_CONTENT_TYPE;
  return TYPES[fileName.slice(dot + 1).toLowerCase()] ?? DEFAULT_CONTENT_TYPE;
}
