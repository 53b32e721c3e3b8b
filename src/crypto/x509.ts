import 'reflect-metadata';
import * as x509 from '@peculiar/x509';
x509.cryptoProvider.set(crypto);
export { x509 };