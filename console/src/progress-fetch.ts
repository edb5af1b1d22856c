// fetch cannot report upload progress; XMLHttpRequest can. This is a fetch
// for the SDK's client that sends through XMLHttpRequest and reports the
// bytes sent, so an upload still goes through the typed SDK call.
export function progressFetch(onProgress: (sent: number, total: number) => void): typeof globalThis.fetch {
  return async (input, init) => {
    const request = input instanceof Request ? input : new Request(input, init);
    const body = request.method === "GET" || request.method === "HEAD" ? null : await request.text();
    return new Promise<Response>((resolve, reject) => {
      const xhr = new XMLHttpRequest();
      xhr.open(request.method, request.url);
      request.headers.forEach((value, name) => xhr.setRequestHeader(name, value));
      xhr.responseType = "blob";
      xhr.upload.onprogress = (e) => onProgress(e.loaded, e.total);
      xhr.onload = () => {
        const empty = xhr.status === 204 || xhr.status === 304;
        resolve(new Response(empty ? null : (xhr.response as Blob), { status: xhr.status, statusText: xhr.statusText, headers: parseHeaders(xhr.getAllResponseHeaders()) }));
      };
      xhr.onerror = () => reject(new TypeError("the upload failed: network error"));
      xhr.onabort = () => reject(new DOMException("the upload was aborted", "AbortError"));
      request.signal.addEventListener("abort", () => xhr.abort());
      xhr.send(body);
    });
  };
}

function parseHeaders(raw: string): Headers {
  const headers = new Headers();
  for (const line of raw.trim().split(/[\r\n]+/)) {
    const i = line.indexOf(":");
    if (i > 0) {
      headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
    }
  }
  return headers;
}
