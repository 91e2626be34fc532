/**
 * The paper's reported test errors (Table 1), labelled as the paper's wherever they are shown.
 * Fractions, like this project's `testError`.
 */
export interface PaperRow {
  method: string;
  mnist?: number;
  cifar10?: number;
  svhn?: number;
}

export const PAPER_BNN_ROWS: PaperRow[] = [
  { method: 'BNN, Torch7 (paper)', mnist: 0.014, cifar10: 0.1015, svhn: 0.0253 },
  { method: 'BNN, Theano (paper)', mnist: 0.0096, cifar10: 0.114, svhn: 0.028 },
];

export const PAPER_OTHER_ROWS: PaperRow[] = [
  { method: 'BinaryConnect (paper, Table 1)', mnist: 0.0129, cifar10: 0.099, svhn: 0.023 },
  { method: 'EBP (paper, Table 1)', mnist: 0.022 },
  { method: 'Bitwise DNNs (paper, Table 1)', mnist: 0.0133 },
  { method: 'Ternary weights, binary activations (paper, Table 1)', mnist: 0.0145 },
  { method: 'No binarization: Maxout networks (paper, Table 1)', mnist: 0.0094, cifar10: 0.1168, svhn: 0.0247 },
  { method: 'No binarization: Network in Network (paper, Table 1)', cifar10: 0.1041, svhn: 0.0235 },
  { method: 'No binarization: Gated pooling (paper, Table 1)', cifar10: 0.0762, svhn: 0.0169 },
  { method: 'No binarization: Deep L2-SVM (paper, Table 1)', mnist: 0.0087 },
];
