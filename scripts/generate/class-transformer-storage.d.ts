// class-transformer's metadata storage (where `@Type()` is recorded) ships its types apart from its code.
declare module 'class-transformer/cjs/storage' {
  export { defaultMetadataStorage } from 'class-transformer/types/storage';
}
