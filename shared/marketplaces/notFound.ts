/** The troubleshooting answer for a marketplace that is not in the file. */
export const notFoundExplanation = {
  what: 'The marketplace ID was not found in the configuration file of this service.',
  why: 'This happens when a partner transacting as a Microsoft Direct Billed partner (not in syndication) has a new marketplace that the service has not been told about yet.',
  todo: 'Ask the operator of this service to add the marketplace: open a support request to the CloudBlue PdM for Microsoft products or to your CloudBlue CSAM, quoting the marketplace ID.',
};
