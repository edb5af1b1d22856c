// tus-js-client's types (through the SDK's uploadFile) name Node's Buffer,
// which the console never passes: here it stands for bytes, so the
// console's types need not take in Node's.
type Buffer = Uint8Array;
