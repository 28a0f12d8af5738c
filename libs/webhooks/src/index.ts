export { CallbackPolicy, CallbackRefusedError, MAX_CALLBACK_URL_LENGTH } from './callback-policy';
export { guardedLookup } from './guarded-lookup';
