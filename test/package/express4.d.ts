// `express4` is the devDependency alias `npm:express@^4`, used to run the suite on Express 4 too.
// Its API is the subset both majors share, so the Express 5 types describe what the tests use.
declare module 'express4' {
  import express from 'express';
  export default express;
}
