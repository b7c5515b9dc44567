/**
 * The error of an app's credential that is missing or unusable, in a file of its own: the error
 * pages recognise it (an operator alert), and they must not load the credential code to do so
 * (the start page's cold start).
 */
import { AppError } from '../errors';

/** The credential of a marketplace's app is missing from the store or cannot be used: an operator error. */
export class AppCredentialError extends AppError {
  override readonly name = 'AppCredentialError';
  constructor(
    readonly problem: 'secret-missing' | 'certificate-unreadable',
    message: string,
    options: { marketplace: string; field: string },
  ) {
    super('marketplace_misconfigured', message, options);
  }
}
