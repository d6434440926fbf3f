// The signed-in API key, kept for this tab only.

const KEY = 'tidyhooks.apiKey';

export const session = {
  key: () => sessionStorage.getItem(KEY) || '',
  set: (key) => sessionStorage.setItem(KEY, key),
  clear: () => sessionStorage.removeItem(KEY),
};
