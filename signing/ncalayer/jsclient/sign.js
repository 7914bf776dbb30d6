// The protocol test's client: ncalayer-js-client itself, against the
// signer at the URL of argv[2], signs the XML document of argv[3] the two
// ways a page does (basics.sign, and commonUtils.signXml) and prints what
// it got as JSON.
const fs = require('fs');
const { NCALayerClient } = require('ncalayer-js-client');

(async () => {
  const [url, docPath, iin] = process.argv.slice(2);
  const xml = fs.readFileSync(docPath, 'utf8');
  const client = new NCALayerClient(url, false);
  const out = { version: await client.connect() };
  out.tokens = await client.getActiveTokens();
  out.keyInfo = await client.getKeyInfo('PKCS12');
  out.basics = await client.basicsSignXML(['PKCS12'], xml, {}, { iin });
  out.commonUtils = await client.signXml('PKCS12', xml, 'SIGNATURE', '', '');
  try {
    await client.basicsSignXML(['PKCS12'], xml, {}, { iin: '000000000000' });
    out.otherIIN = 'signed';
  } catch (err) {
    out.otherIIN = err.message;
  }
  process.stdout.write(JSON.stringify(out));
  process.exit(0);
})().catch((err) => {
  process.stderr.write(`${err.message}\n`);
  process.exit(1);
});
