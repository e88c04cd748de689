import { useEffect, useState } from 'react';

/** The app's location: the path segments and query of the URL's hash, e.g. `#/proposals/12?x=1`. */
export interface Route {
  path: string[];
  query: URLSearchParams;
}

function parse(hash: string): Route {
  const [path = '', query = ''] = hash.replace(/^#\/?/, '').split('?');
  return { path: path.split('/').filter(Boolean).map(decodeURIComponent), query: new URLSearchParams(query) };
}

/**
 * The current route. The app routes in the URL's hash, so it works from any static server, each page has an
 * address to bookmark, and the browser's back button works.
 */
export function useRoute(): Route {
  const [hash, setHash] = useState(() => window.location.hash);
  useEffect(() => {
    const onChange = () => setHash(window.location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return parse(hash);
}

/** The href of a page of the app. */
export function href(...path: (string | bigint | number)[]): string {
  return `#/${path.map((part) => encodeURIComponent(String(part))).join('/')}`;
}
